//! `Server` against a client stack over simulated NICs, one core, on a virtual clock: a pass
//! visits the clients with news, not every connected one, and nothing waits for the sweep.

use alloc::vec::Vec;

use corenet::prelude::RecvError;
use corenet::raw::net::stack::TcpConn;
use corenet::testing::{
    CoreStack, OUR_IP, OUR_MAC, PEER_IP, PEER_MAC, RssConfig, SimNic, SimStack, StackConfig,
};
use corenet_http::timers::Timeouts;

use super::cross::encode;
use crate::node::Node;
use crate::serve::Server;
use crate::store::Policy;

struct Bed {
    server: SimStack,
    snic: SimNic,
    client: SimStack,
    cnic: SimNic,
    srv: Server,
    now_us: u64,
}

impl Bed {
    fn new() -> Self {
        let one = RssConfig::new(1).unwrap();
        let snic = SimNic::new(one.clone(), 1024);
        let (rx, tx) = snic.queue_pair(0);
        let mut cfg = StackConfig::new(OUR_MAC, OUR_IP, 24, 42);
        cfg.max_connections = 512;
        cfg.tcp_buffer = 4096;
        let mut server = CoreStack::new(cfg, &one, rx, tx, None, 0).unwrap();
        server.listen(6379).unwrap();
        let cnic = SimNic::new(one.clone(), 1024);
        let (rx, tx) = cnic.queue_pair(0);
        let mut cfg = StackConfig::new(PEER_MAC, PEER_IP, 24, 7);
        cfg.max_connections = 512;
        cfg.tcp_buffer = 4096;
        let client = CoreStack::new(cfg, &one, rx, tx, None, 0).unwrap();
        let node = Node::new(0, 1, 1 << 24, Policy::NoEviction, 9);
        let srv = Server::new(node, None, 6379, 512, 8 << 20, Timeouts::default());
        Bed {
            server,
            snic,
            client,
            cnic,
            srv,
            now_us: 0,
        }
    }

    /// Advances the virtual clock by 1 ms and runs one round of both hosts.
    fn step(&mut self) {
        self.now_us += 1000;
        self.client.poll(self.now_us);
        while let Some(f) = self.cnic.take_sent() {
            self.snic.deliver(f);
        }
        self.server.poll_ingress(self.now_us);
        self.srv.poll(&mut self.server, self.now_us * 1000, 1 << 40);
        self.server.poll_egress();
        while let Some(f) = self.snic.take_sent() {
            self.cnic.deliver(f);
        }
    }

    fn run(&mut self, steps: usize) {
        (0..steps).for_each(|_| self.step());
    }

    fn read(&mut self, c: TcpConn) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = self.client.recv(c, &mut buf) {
            out.extend_from_slice(&buf[..n]);
        }
        assert!(!matches!(
            self.client.recv(c, &mut buf),
            Err(RecvError::Closed)
        ));
        out
    }
}

#[test]
fn a_pass_visits_the_clients_with_news_not_every_connected_one() {
    let mut b = Bed::new();
    let clients: Vec<TcpConn> = (0..300)
        .map(|_| {
            let c = b.client.connect((OUR_IP, 6379)).unwrap();
            b.run(3);
            c
        })
        .collect();
    b.run(20);
    assert_eq!(b.srv.clients(), 300);
    // 100 passes 1 ms apart with nothing happening: the deadline sweep visits each client
    // about once per quarter second (300 * 100 / 250 = 120), where visiting every client
    // every pass made 30 000 visits.
    let before = b.srv.stats.visits;
    b.run(100);
    let swept = b.srv.stats.visits - before;
    assert!((100..=150).contains(&swept), "{swept} visits");

    // Commands pipelined past the output bound on one client among the 300: every reply
    // comes back as the output drains, not at the sweep's pace (250 passes).
    let c = clients[150];
    let mut input = Vec::new();
    for i in 0..3000 {
        encode(&alloc::format!("SET key:{i} value-{i}"), &mut input);
        encode(&alloc::format!("GET key:{i}"), &mut input);
    }
    let want: Vec<u8> = (0..3000)
        .flat_map(|i| {
            let v = alloc::format!("value-{i}");
            alloc::format!("+OK\r\n${}\r\n{v}\r\n", v.len()).into_bytes()
        })
        .collect();
    let (mut sent, mut got, mut steps) = (0, Vec::new(), 0);
    let before = b.srv.stats.visits;
    while got.len() < want.len() && steps < 3000 {
        if sent < input.len() {
            sent += b.client.send(c, &input[sent..]).unwrap_or(0);
        }
        b.step();
        got.extend(b.read(c));
        steps += 1;
    }
    assert!(
        got == want,
        "every reply, in order ({} of {} bytes)",
        got.len(),
        want.len()
    );
    let visits = b.srv.stats.visits - before;
    // The sweep's share of those steps, plus about one visit per step for the busy client.
    let sweep = 300 * steps as u64 / 250;
    assert!(
        visits <= sweep + 3 * steps as u64,
        "{visits} visits in {steps} steps"
    );
    assert!(steps < 1000, "{steps} steps");
}

/// The stack shows a connection's received bytes up to its ring buffer's end; the bytes after
/// the wrap come with no segment of their own. Hundreds of commands one at a time (many wraps
/// of the 4 KiB buffer) are each answered within a few steps (two, three when the client splits one at its own
/// buffer's wrap), never at a timer's pace.
#[test]
fn commands_across_the_receive_buffers_wrap_are_answered_at_once() {
    let mut b = Bed::new();
    let c = b.client.connect((OUR_IP, 6379)).unwrap();
    b.run(5);
    let mut cmd = Vec::new();
    encode("SET wrap-test-key some-value", &mut cmd);
    for i in 0..400 {
        b.client.send(c, &cmd).unwrap();
        let mut steps = 0;
        let mut got = Vec::new();
        while got != b"+OK\r\n" {
            b.step();
            got.extend(b.read(c));
            steps += 1;
            assert!(steps <= 5, "command {i} took {steps} steps");
        }
    }
}
