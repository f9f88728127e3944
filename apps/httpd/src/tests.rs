//! `Server` against a client stack over simulated NICs, on a virtual clock: slowloris,
//! eviction, 503, shedding, idle timeout, UDP echo rate limit.

use alloc::vec::Vec;
use corenet::prelude::RecvError;
use corenet::raw::net::stack::TcpConn;
use corenet::testing::{
    CoreStack, OUR_IP, OUR_MAC, PEER_IP, PEER_MAC, RssConfig, SimNic, SimStack, StackConfig,
};
use corenet_http::settings::Settings;
use corenet_http::timers::SECOND;
use corenet_http::{Request, Response, Status};

use crate::serve::Server;

type Stack = SimStack;

static BIG: [u8; 20_000] = [b'x'; 20_000];

fn route(r: &Request<'_>) -> Response {
    match r.path() {
        "/" => Response::new(Status::Ok, "text/plain", b"hi"),
        "/big" => Response::new(Status::Ok, "text/plain", &BIG),
        _ => Response::error(Status::NotFound),
    }
}

struct Bed {
    server: Stack,
    snic: SimNic,
    client: Stack,
    cnic: SimNic,
    srv: Server,
    now_us: u64,
}

impl Bed {
    fn new(max_connections: usize, pool: usize, settings: Settings) -> Self {
        let one = RssConfig::new(1).unwrap();
        let snic = SimNic::new(one.clone(), 1024);
        let (rx, tx) = snic.queue_pair(0);
        let mut cfg = StackConfig::new(OUR_MAC, OUR_IP, 24, 42);
        cfg.max_connections = max_connections;
        cfg.tcp_buffer = 4096;
        let mut server = CoreStack::new(cfg, &one, rx, tx, None, 0).unwrap();
        server.listen(80).unwrap();
        server.listen(7).unwrap();
        let udp = server.udp_bind(7).ok();
        let cnic = SimNic::new(one.clone(), 1024);
        let (rx, tx) = cnic.queue_pair(0);
        let mut cfg = StackConfig::new(PEER_MAC, PEER_IP, 24, 7);
        cfg.tcp_buffer = 4096;
        let client = CoreStack::new(cfg, &one, rx, tx, None, 0).unwrap();
        let srv = Server::new(settings, udp, max_connections, pool, 0);
        Bed {
            server,
            snic,
            client,
            cnic,
            srv,
            now_us: 0,
        }
    }

    /// Advances the virtual clock by `ms` and runs one round of both hosts.
    fn step(&mut self, ms: u64) {
        self.now_us += ms * 1000;
        self.client.poll(self.now_us);
        while let Some(f) = self.cnic.take_sent() {
            self.snic.deliver(f);
        }
        // The guest's pass: receive, serve, transmit.
        self.server.poll_ingress(self.now_us);
        self.srv
            .poll(&mut self.server, self.now_us * 1000, 1 << 40, &mut route);
        self.server.poll_egress();
        while let Some(f) = self.snic.take_sent() {
            self.cnic.deliver(f);
        }
    }

    fn run(&mut self, ms: u64, steps: usize) {
        for _ in 0..steps {
            self.step(ms);
        }
    }

    fn connect(&mut self, port: u16) -> TcpConn {
        let c = self.client.connect((OUR_IP, port)).unwrap();
        self.run(1, 5);
        c
    }

    /// Everything readable now on `c`, and whether the server ended the connection.
    fn read(&mut self, c: TcpConn) -> (Vec<u8>, bool) {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match self.client.recv(c, &mut buf) {
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(RecvError::WouldBlock) => return (out, false),
                Err(_) => return (out, true),
            }
        }
    }

    fn get(&mut self, c: TcpConn, path: &str) -> (Vec<u8>, bool) {
        let req = std::format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n");
        self.client.send(c, req.as_bytes()).unwrap();
        self.run(1, 10);
        self.read(c)
    }
}

fn ok(resp: &[u8]) -> bool {
    resp.starts_with(b"HTTP/1.1 200 OK")
}

#[test]
fn slowloris_is_reset_at_the_header_timeout_and_others_are_served() {
    let mut b = Bed::new(64, 1 << 20, Settings::default());
    let slow: Vec<TcpConn> = (0..40).map(|_| b.connect(80)).collect();
    // A header byte each every 2 s, never the end of the head.
    let head = b"GET / HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    for (i, byte) in head.iter().take(6).enumerate() {
        for &c in &slow {
            b.client.send(c, core::slice::from_ref(byte)).unwrap();
        }
        b.run(1, 5);
        let fresh = b.connect(80);
        assert!(ok(&b.get(fresh, "/").0), "served while under attack ({i})");
        let _ = b.client.close(fresh);
        b.run(2000, 1);
    }
    b.run(500, 4);
    assert_eq!(b.srv.stats.header_timeouts, 40);
    assert!(slow.iter().all(|&c| b.read(c).1), "every slow one reset");
    assert_eq!(b.srv.http.len(), 0, "slots reclaimed");
    assert_eq!(b.srv.stats.pool_used, 0);
}

#[test]
fn idle_keep_alive_closes_after_idle_timeout_not_before() {
    let mut b = Bed::new(64, 1 << 20, Settings::default());
    let c = b.connect(80);
    assert!(ok(&b.get(c, "/").0));
    b.run(1000, 58);
    assert!(
        ok(&b.get(c, "/").0),
        "59 s idle: still open, and the clock restarts"
    );
    b.run(1000, 59);
    assert_eq!(b.srv.stats.idle_timeouts, 0);
    b.run(1000, 2);
    assert_eq!(b.srv.stats.idle_timeouts, 1);
    assert!(b.read(c).1, "closed after 60 s idle");
}

#[test]
fn at_the_limit_the_oldest_idle_connection_makes_room() {
    // 20 slots: eviction starts when fewer than 20/16 + 1 = 2 are free.
    let mut b = Bed::new(20, 1 << 20, Settings::default());
    let mut conns = Vec::new();
    for i in 0..30 {
        let c = b.connect(80);
        assert!(ok(&b.get(c, "/").0), "every client served");
        conns.push(c);
        if i < 17 {
            b.run(10, 1);
        } else {
            // Idle for a second: old enough to be evicted.
            b.run(100, 10);
        }
    }
    assert_eq!(b.server.counters().refused.get(), 0, "nobody refused");
    assert!(b.srv.stats.evictions >= 10, "{}", b.srv.stats.evictions);
    // The victims were the oldest: the first ones are gone, the last ones kept.
    assert!(b.read(conns[0]).1);
    assert!(ok(&b.get(conns[29], "/").0));
    assert!(b.server.connections() < 20);
}

#[test]
fn a_short_pool_answers_503_and_a_greedy_connection_is_shed() {
    // Room to admit one connection, not for a 20 KB response.
    let mut b = Bed::new(64, 8 * 1024, Settings::default());
    let greedy = b.connect(80);
    let (_, reset) = b.get(greedy, "/big");
    b.run(1, 5);
    assert!(reset || b.read(greedy).1, "shed: reset");
    assert_eq!(b.srv.stats.shed, 1);
    assert_eq!(b.srv.stats.pool_used, 0, "its buffers went back");
    // Now hold most of the pool with a slow reader of small responses...
    // (output grows by doubling to its 16 KiB bound: 16 KiB of a 20 KiB pool).
    let mut b = Bed::new(64, 20 * 1024, Settings::default());
    let first = b.connect(80);
    let reqs = "GET / HTTP/1.1\r\n\r\n".repeat(200);
    b.client.send(first, reqs.as_bytes()).unwrap();
    b.run(1, 20);
    assert!(b.srv.stats.pool_used > 16 * 1024, "{:?}", b.srv.stats);
    // ...and a newcomer hears 503 and is closed.
    let late = b.connect(80);
    b.run(1, 5);
    let (resp, _) = b.read(late);
    assert!(
        resp.starts_with(b"HTTP/1.1 503"),
        "{:?}",
        core::str::from_utf8(&resp)
    );
    assert_eq!(b.srv.stats.unavailable, 1);
}

#[test]
fn echo_stops_reading_at_its_bound_and_greedy_peers_time_out() {
    let mut s = Settings::default();
    s.timeouts.send_ns = 5 * SECOND;
    let mut b = Bed::new(64, 1 << 20, s);
    let c = b.connect(7);
    // The peer sends 100 KB and reads nothing.
    let data = [9u8; 1000];
    for _ in 0..100 {
        let _ = b.client.send(c, &data);
        b.run(1, 2);
    }
    assert!(b.srv.stats.pool_used <= corenet_http::echo::MAX_PENDING as u64);
    b.run(1000, 6);
    assert_eq!(b.srv.stats.send_timeouts, 1);
    assert_eq!((b.srv.echo.len(), b.srv.stats.pool_used), (0, 0));
}

#[test]
fn udp_echo_is_rate_limited_per_core() {
    let s = Settings {
        udp_echo_rate: 10,
        udp_echo_burst: 5,
        ..Settings::default()
    };
    let mut b = Bed::new(64, 1 << 20, s);
    let u = b.client.udp_bind(4000).unwrap();
    let mut got = 0;
    let mut buf = [0u8; 64];
    // 40 datagrams within 40 ms: the burst passes, the rest is dropped.
    for _ in 0..8 {
        for _ in 0..5 {
            let _ = b.client.udp_send_to(u, b"ping", (OUR_IP, 7));
        }
        b.run(1, 5);
        while b.client.udp_recv_from(u, &mut buf).is_ok() {
            got += 1;
        }
    }
    assert_eq!(got, 5);
    assert!(b.srv.stats.udp_echo_dropped > 0);
    // A second later, ten more.
    b.run(1000, 1);
    for _ in 0..4 {
        for _ in 0..5 {
            let _ = b.client.udp_send_to(u, b"ping", (OUR_IP, 7));
        }
        b.run(1, 5);
        while b.client.udp_recv_from(u, &mut buf).is_ok() {
            got += 1;
        }
    }
    assert_eq!(got, 10, "burst refilled to 5, no more");
}

#[test]
fn at_the_limit_with_no_idle_connection_the_slowest_request_makes_room() {
    let mut b = Bed::new(20, 1 << 20, Settings::default());
    // Slowloris fills the slots: each sent half a head and nothing since.
    let slow: Vec<TcpConn> = (0..18)
        .map(|_| {
            let c = b.connect(80);
            b.client.send(c, b"GET / HTTP/1.1\r\nX-Slow: a").unwrap();
            c
        })
        .collect();
    b.run(100, 15);
    for _ in 0..10 {
        let c = b.connect(80);
        assert!(ok(&b.get(c, "/").0), "fresh clients served at the limit");
        b.run(10, 1);
    }
    assert_eq!(b.server.counters().refused.get(), 0);
    assert!(b.srv.stats.evictions_slow >= 8, "{:?}", b.srv.stats);
    assert!(b.read(slow[0]).1, "the oldest slow one went first");
}

mod hostile;

#[test]
fn a_pass_visits_the_connections_with_news_not_every_open_one() {
    let mut b = Bed::new(512, 8 << 20, Settings::default());
    let idle: Vec<TcpConn> = (0..300).map(|_| b.connect(80)).collect();
    for &c in idle.iter().take(3) {
        assert!(ok(&b.get(c, "/").0));
    }
    b.run(1, 20);
    // 100 passes 1 ms apart with nothing happening: the deadline sweep visits each
    // connection about once per quarter second, 300 * 100 / 250 = 120 visits, where a
    // visit of every connection every pass made 30 000.
    let before = b.srv.stats.visits;
    b.run(1, 100);
    let swept = b.srv.stats.visits - before;
    assert!((100..=150).contains(&swept), "{swept} visits");
    // A request among 300 open connections: answered within the same steps as ever, with a
    // handful of visits more than the sweep's.
    let before = b.srv.stats.visits;
    let c = idle[150];
    let req = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n";
    b.client.send(c, req).unwrap();
    b.run(1, 10);
    assert!(ok(&b.read(c).0), "answered");
    let used = b.srv.stats.visits - before;
    assert!(used <= 12 + 6, "{used} visits for one request in 10 passes");
    // Pipelined requests past the output bound: the rest are answered as output drains,
    // with no new segment from the client to announce them.
    let many = req.repeat(200);
    let mut sent = 0;
    while sent < many.len() {
        sent += b.client.send(c, &many[sent..]).unwrap();
        b.run(1, 2);
    }
    let mut got = Vec::new();
    let mut steps = 0;
    while got.windows(15).filter(|w| w == b"HTTP/1.1 200 OK").count() < 200 && steps < 2000 {
        b.run(1, 1);
        got.extend(b.read(c).0);
        steps += 1;
    }
    let answers = got.windows(15).filter(|w| w == b"HTTP/1.1 200 OK").count();
    assert_eq!(answers, 200, "every pipelined request answered");
    // As the output drains (11 steps here), not at the sweep's pace (250 steps).
    assert!(steps <= 50, "{steps} steps");
}

/// The stack shows a connection's received bytes up to its ring buffer's end; the bytes after
/// the wrap come with no segment of their own. Hundreds of requests on one connection (many
/// wraps of its 4 KiB buffer) are each answered within a few steps (two, three when the client splits one at its own
/// buffer's wrap), never at a timer's pace.
#[test]
fn requests_across_the_receive_buffers_wrap_are_answered_at_once() {
    let mut b = Bed::new(64, 1 << 20, Settings::default());
    let c = b.connect(80);
    let req = b"GET / HTTP/1.1\r\nHost: wrap-test\r\n\r\n";
    for i in 0..400 {
        b.client.send(c, req).unwrap();
        let mut steps = 0;
        let mut got = Vec::new();
        while !got.ends_with(b"hi") {
            b.step(1);
            got.extend(b.read(c).0);
            steps += 1;
            assert!(steps <= 5, "request {i} took {steps} steps");
        }
    }
}
