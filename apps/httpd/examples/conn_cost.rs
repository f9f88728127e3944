//! httpd's cost per request with N connections open: its real `Server` (deadlines, pool,
//! routes) on a stack, over a simulated NIC, under callgrind.
//!
//! ```text
//! cargo build --release -p httpd --example conn_cost
//! valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*measured_step*' \
//!     target/release/examples/conn_cost <connections> <requests>
//! ```
//!
//! A client stack opens `connections` keep-alive connections to port 80, then sends
//! `requests` GETs, one at a time, on one of them while the rest stay open and idle; a round
//! is 50 us of virtual time. Only `measured_step` (the server's pass: receive, httpd's
//! `Server::poll`, transmit) is counted, so instructions per request = Ir / requests. Before
//! `Sockets::take_ready` a pass visited every open connection, so the cost grew with them;
//! now it visits those with news plus the deadline sweep's share (each connection every
//! 250 ms of virtual time).

use corenet::testing::{CoreStack, RssConfig, SimNic, SimStack, StackConfig};
use corenet_http::settings::Settings;
use corenet_http::{Request, Response, Status};
use corenet_httpd::serve::Server;

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n";

fn route(r: &Request<'_>) -> Response {
    match r.path() {
        "/" => Response::new(Status::Ok, "text/plain", b"ok"),
        _ => Response::error(Status::NotFound),
    }
}

struct Side {
    stack: Box<SimStack>,
    srv: Server,
}

impl Side {
    /// One server pass at `now_us`.
    #[inline(never)]
    fn step(&mut self, now_us: u64) {
        let srv = &mut self.srv;
        self.stack
            .pass(now_us, |s| srv.poll(s, now_us * 1000, 1 << 40, &mut route));
    }

    /// The measured call.
    #[inline(never)]
    fn measured_step(&mut self, now_us: u64) {
        self.step(now_us);
    }
}

fn cfg(last: u8, n: usize) -> StackConfig {
    let mut c = StackConfig::new(
        [2, 0, 0, 0, 0, last],
        [10, 0, 0, last],
        24,
        7 + u64::from(last),
    );
    c.tcp_buffer = 4096;
    c.backlog = 64;
    c.max_connections = n + 64;
    c.bucket_bits = n.next_power_of_two().trailing_zeros().max(4);
    c
}

fn pump(a: &SimNic, b: &SimNic) {
    while let Some(f) = a.take_sent() {
        b.deliver(f);
    }
    while let Some(f) = b.take_sent() {
        a.deliver(f);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1);
    let reqs: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(2000);

    let rss = RssConfig::new(1).expect("one queue");
    let snic = SimNic::new(rss.clone(), 1 << 16);
    let cnic = SimNic::new(rss.clone(), 1 << 16);
    let (rx, tx) = snic.queue_pair(0);
    let mut stack = CoreStack::new(cfg(2, n), &rss, rx, tx, None, 0).expect("config");
    stack.listen(80).expect("listen");
    let srv = Server::new(Settings::default(), None, n + 64, 1 << 30, 0);
    let mut server = Side {
        stack: Box::new(stack),
        srv,
    };
    let (rx, tx) = cnic.queue_pair(0);
    let mut client = CoreStack::new(cfg(1, n), &rss, rx, tx, None, 0).expect("config");
    let mut now = 0u64;
    let round = |client: &mut SimStack, server: &mut Side, now: &mut u64, measured: bool| {
        *now += 50;
        client.poll(*now);
        pump(&cnic, &snic);
        if measured {
            server.measured_step(*now);
        } else {
            server.step(*now);
        }
        pump(&cnic, &snic);
    };
    let mut conns = Vec::with_capacity(n);
    while conns.len() < n {
        for _ in 0..64.min(n - conns.len()) {
            conns.push(client.connect(([10, 0, 0, 2], 80)).expect("connect"));
        }
        for _ in 0..4 {
            round(&mut client, &mut server, &mut now, false);
        }
    }
    for _ in 0..200 {
        round(&mut client, &mut server, &mut now, false);
    }
    assert_eq!(server.srv.http.len(), n, "every connection accepted");
    let active = conns[0];
    let (visits0, passes0) = (server.srv.stats.visits, 0u64);
    let mut passes = passes0;
    let mut buf = [0u8; 512];
    for _ in 0..reqs {
        assert_eq!(client.send(active, REQUEST), Ok(REQUEST.len()));
        let mut got = Vec::new();
        while !got.ends_with(b"\r\n\r\nok") {
            passes += 1;
            round(&mut client, &mut server, &mut now, true);
            if let Ok(k) = client.recv(active, &mut buf) {
                got.extend_from_slice(&buf[..k]);
            }
            assert!(passes < 100 * reqs as u64, "request stalled");
        }
    }
    println!(
        "connections={n} requests={reqs} server_passes={passes} visits={}",
        server.srv.stats.visits - visits0
    );
}
