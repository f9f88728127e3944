//! Echo served by the poll API and by the async executor: instructions per request.
//!
//! ```text
//! cargo build --release -p corenet-net --example async_bench
//! valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*measured_step*' \
//!     target/release/examples/async_bench <poll|poll-hoisted|async|http-poll|http-async> <connections> <requests>
//! ```
//!
//! A client stack opens `connections` connections to a server stack over two simulated
//! NICs and sends `requests` 64-byte requests on one of them, waiting for each echo, while
//! the rest stay open and idle. The server is apps/echo's code either way: `poll` is its
//! `CoreStack::pass` closure (accept, then `retain` with recv/send on every connection),
//! `async` is `task::Executor::pass` with an accept-loop task and the straight-line echo
//! task per connection; `poll-hoisted` is `poll` with its 2 KB buffer outside the
//! per-connection loop. `http-poll` and `http-async` are a tiny HTTP server (a GET
//! answered with a fixed 200 once its headers end) in each style: the poll one keeps each
//! connection's parse state by hand. Only `measured_step` (one server pass) is counted, so
//! instructions per request = Ir / requests (one request in, one echo out, ACKs included).

use std::cell::RefCell;
use std::rc::Rc;

use corenet_net::sim::{SimNic, SimRxQueue, SimTxQueue};
use corenet_net::stack::RecvError;
use corenet_net::task::{AsyncConn, Executor, Io};
use corenet_net::{Conn, CoreStack, Sockets, StackConfig};
use corenet_nic::steering::RssConfig;

type Stack = CoreStack<SimRxQueue, SimTxQueue>;

const PORT: u16 = 7;

enum Server {
    Poll(Box<Stack>, Vec<Conn>),
    PollHoisted(Box<Stack>, Vec<Conn>, Box<[u8; 2048]>),
    HttpPoll(Box<Stack>, Vec<(Conn, u8)>, Box<[u8; 2048]>),
    Async(Rc<RefCell<Stack>>, Executor),
}

/// apps/echo's pass closure, unchanged.
fn poll_echo(s: &mut dyn Sockets, conns: &mut Vec<Conn>) -> bool {
    while let Ok(c) = s.accept(PORT) {
        conns.push(c);
    }
    conns.retain(|c| {
        let mut buf = [0u8; 2048];
        let room = s.send_room(c).min(buf.len());
        match s.recv(c, &mut buf[..room]) {
            Ok(n) => s.send(c, &buf[..n]).is_ok(),
            Err(e) => e == RecvError::WouldBlock,
        }
    });
    false
}

/// The same with the buffer outside the loop: apps/echo zeroes 2 KB per connection per
/// pass, which dominates its cost with many idle connections.
fn poll_echo_hoisted(s: &mut dyn Sockets, conns: &mut Vec<Conn>, buf: &mut [u8; 2048]) -> bool {
    while let Ok(c) = s.accept(PORT) {
        conns.push(c);
    }
    conns.retain(|c| {
        let room = s.send_room(c).min(buf.len());
        match s.recv(c, &mut buf[..room]) {
            Ok(n) => s.send(c, &buf[..n]).is_ok(),
            Err(e) => e == RecvError::WouldBlock,
        }
    });
    false
}

/// The tiny HTTP server's request and its one answer.
const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n";
const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

/// How far into "\r\n\r\n" (the end of a request's headers) the bytes seen so far are.
fn end_of_headers(matched: u8, b: u8) -> u8 {
    const END: &[u8; 4] = b"\r\n\r\n";
    if b == END[matched as usize] {
        matched + 1
    } else if b == b'\r' {
        1
    } else {
        0
    }
}

/// A tiny HTTP server on the poll API: each connection keeps its parse state by hand.
fn poll_http(s: &mut dyn Sockets, conns: &mut Vec<(Conn, u8)>, buf: &mut [u8; 2048]) -> bool {
    while let Ok(c) = s.accept(PORT) {
        conns.push((c, 0));
    }
    conns.retain_mut(|(c, matched)| match s.recv(c, buf) {
        Ok(n) => {
            for &b in &buf[..n] {
                *matched = end_of_headers(*matched, b);
                if *matched == 4 {
                    *matched = 0;
                    // A full send buffer drops the connection (a real server would queue).
                    if s.send(c, RESPONSE) != Ok(RESPONSE.len()) {
                        return false;
                    }
                }
            }
            true
        }
        Err(e) => e == RecvError::WouldBlock,
    });
    false
}

/// The same as straight-line async code.
async fn http(mut conn: AsyncConn) {
    let mut buf = [0u8; 2048];
    let mut matched = 0;
    while let Ok(n @ 1..) = conn.read(&mut buf).await {
        for &b in &buf[..n] {
            matched = end_of_headers(matched, b);
            if matched == 4 {
                matched = 0;
                if conn.write_all(RESPONSE).await.is_err() {
                    return;
                }
            }
        }
    }
}

async fn http_accept_loop(io: Io) {
    while let Ok(conn) = io.accept(PORT).await {
        io.spawn(http(conn));
    }
}

/// The same echo as straight-line async code.
async fn echo(mut conn: AsyncConn) {
    let mut buf = [0u8; 2048];
    while let Ok(n @ 1..) = conn.read(&mut buf).await {
        if conn.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

async fn accept_loop(io: Io) {
    while let Ok(conn) = io.accept(PORT).await {
        io.spawn(echo(conn));
    }
}

impl Server {
    /// One server pass: receive, the application, transmit.
    #[inline(never)]
    fn step(&mut self, now_us: u64) {
        match self {
            Server::Poll(stack, conns) => {
                stack.pass(now_us, |s| poll_echo(s, conns));
            }
            Server::PollHoisted(stack, conns, buf) => {
                stack.pass(now_us, |s| poll_echo_hoisted(s, conns, buf));
            }
            Server::HttpPoll(stack, conns, buf) => {
                stack.pass(now_us, |s| poll_http(s, conns, buf));
            }
            Server::Async(stack, exec) => {
                exec.pass(stack, now_us);
            }
        }
    }

    /// The measured call.
    #[inline(never)]
    fn measured_step(&mut self, now_us: u64) {
        self.step(now_us);
    }

    fn frames(&self) -> u64 {
        let s = match self {
            Server::Poll(stack, _) | Server::PollHoisted(stack, _, _) => stack.device_stats(),
            Server::HttpPoll(stack, _, _) => stack.device_stats(),
            Server::Async(stack, _) => stack.borrow().device_stats(),
        };
        s.rx_frames + s.tx_frames
    }
}

fn cfg(last: u8, n: usize) -> StackConfig {
    let mut c = StackConfig::new(
        [2, 0, 0, 0, 0, last],
        [10, 0, 0, last],
        24,
        7 + u64::from(last),
    );
    c.tcp_buffer = 2048;
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
    let kind = args.get(1).map_or("poll", String::as_str).to_owned();
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    let reqs: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(2000);

    let rss = RssConfig::new(1).expect("one queue");
    let snic = SimNic::new(rss.clone(), 1 << 16);
    let cnic = SimNic::new(rss.clone(), 1 << 16);
    let (rx, tx) = snic.queue_pair(0);
    let mut stack = CoreStack::new(cfg(2, n), &rss, rx, tx, None, 0).expect("config");
    stack.listen(PORT).expect("listen");
    let mut server = match kind.as_str() {
        "poll" => Server::Poll(Box::new(stack), Vec::new()),
        "poll-hoisted" => Server::PollHoisted(Box::new(stack), Vec::new(), Box::new([0; 2048])),
        "http-poll" => Server::HttpPoll(Box::new(stack), Vec::new(), Box::new([0; 2048])),
        "async" | "http-async" => {
            let stack = Rc::new(RefCell::new(stack));
            let mut exec = Executor::new(stack.clone());
            if kind == "async" {
                exec.spawn(accept_loop(exec.io()));
            } else {
                exec.spawn(http_accept_loop(exec.io()));
            }
            Server::Async(stack, exec)
        }
        _ => panic!(
            "usage: async_bench <poll|poll-hoisted|async|http-poll|http-async> <connections> <requests>"
        ),
    };
    let (rx, tx) = cnic.queue_pair(0);
    let mut client = CoreStack::new(cfg(1, n), &rss, rx, tx, None, 0).expect("config");
    let mut now = 0u64;
    let mut conns = Vec::with_capacity(n);
    let round = |client: &mut Stack, server: &mut Server, now: &mut u64, measured: bool| {
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
    while conns.len() < n {
        for _ in 0..64.min(n - conns.len()) {
            conns.push(client.connect(([10, 0, 0, 2], PORT)).expect("connect"));
        }
        for _ in 0..4 {
            round(&mut client, &mut server, &mut now, false);
        }
    }
    for _ in 0..200 {
        round(&mut client, &mut server, &mut now, false);
    }
    let active = conns[0];

    let frames0 = server.frames();
    let echo_msg = [0x5au8; 64];
    let (msg, want) = if kind.starts_with("http") {
        (REQUEST, RESPONSE.len())
    } else {
        (&echo_msg[..], echo_msg.len())
    };
    let mut buf = [0u8; 256];
    let mut passes = 0u64;
    for _ in 0..reqs {
        assert_eq!(client.send(active, msg), Ok(msg.len()));
        let mut got = 0;
        while got < want {
            passes += 1;
            round(&mut client, &mut server, &mut now, true);
            if let Ok(k) = client.recv(active, &mut buf) {
                got += k;
            }
            assert!(passes < 100 * reqs as u64, "echo stalled");
        }
    }
    println!(
        "{kind} connections={n} requests={reqs} server_frames={} server_passes={passes}",
        server.frames() - frames0
    );
}
