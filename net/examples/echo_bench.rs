//! Echo benchmark: our per-core stack versus plain smoltcp, on the same in-memory wire.
//!
//! ```text
//! cargo build --release -p corenet-net --example echo_bench
//! target/release/examples/echo_bench <ours|ours6|plain> <connections> <round_trips>
//! valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*measured_step*' \
//!     target/release/examples/echo_bench ours 1000 2000
//! ```
//!
//! A client (always our stack, so its cost stays flat and is not measured) opens
//! `connections` TCP connections to the server under test over two back-to-back simulated
//! NICs, then runs `round_trips` 64-byte echoes on one of them while the rest stay open and
//! idle. Only `measured_step` (the server's poll plus its echo application) is measured by
//! callgrind; the program prints the frames the server handled in that phase, so
//! instructions per packet = Ir / frames. `ours6` is `ours` over IPv6 (fd00::1 -> fd00::2);
//! it needs `--features ipv6`.

use corenet_net::sim::{SimNic, SimRxQueue, SimTxQueue};
use corenet_net::stack::TcpConn;
use corenet_net::{CoreStack, StackConfig};
use corenet_nic::steering::RssConfig;
use smoltcp::iface::{
    Config, Interface, PollIngressSingleResult, PollResult, SocketHandle, SocketSet,
};
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpCidr, Ipv4Address};

type Stack = CoreStack<SimRxQueue, SimTxQueue>;
type Dev = corenet_net::device::QueueDevice<SimRxQueue, SimTxQueue>;

const SERVER_IP: [u8; 4] = [10, 0, 0, 2];
const CLIENT_IP: [u8; 4] = [10, 0, 0, 1];
const SERVER_IP6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
const CLIENT_IP6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const PORT: u16 = 7;
const BUF: usize = 2048;

#[allow(clippy::large_enum_variant, reason = "one value per benchmark run")]
enum Server {
    Ours {
        stack: Box<Stack>,
        conns: Vec<TcpConn>,
    },
    Plain {
        iface: Interface,
        dev: Dev,
        set: SocketSet<'static>,
        handles: Vec<SocketHandle>,
    },
}

fn stack_cfg(mac_last: u8, ip: [u8; 4], n: usize, ip6: Option<[u8; 16]>) -> StackConfig {
    let mut c = StackConfig::new([2, 0, 0, 0, 0, mac_last], ip, 24, 7 + u64::from(mac_last));
    c.ipv6 = ip6.map(|ip| corenet_net::config::Ipv6Config {
        ip,
        prefix_len: 64,
        gateway: None,
    });
    c.tcp_buffer = BUF;
    // As corenet's facade by default (tcpbuf_auto=640K, a few MiB per core for it,
    // tcp_pacing=on, tcp_hystart=on): the window scale of 640 KiB offered; the in-memory
    // wire's round trip grows nothing and is too short to be paced (a flag test per
    // segment); HyStart++ times segments in the first slow start.
    c.tcp_buffer_auto_max = 640 * 1024;
    c.port_buffer_budget = 6 << 20;
    c.tcp_pacing = true;
    c.tcp_hystart = true;
    c.backlog = 64;
    c.max_connections = n + 64;
    // Flow table about as large as the connection count: short chains.
    c.bucket_bits = n.next_power_of_two().trailing_zeros().max(4);
    c
}

impl Server {
    fn new(kind: &str, nic: &SimNic, n: usize) -> Self {
        let (rx, tx) = nic.queue_pair(0);
        match kind {
            "ours" | "ours6" => {
                let rss = RssConfig::new(1).expect("one queue");
                let ip6 = (kind == "ours6").then_some(SERVER_IP6);
                let mut stack = Box::new(
                    CoreStack::new(stack_cfg(2, SERVER_IP, n, ip6), &rss, rx, tx, None, 0)
                        .expect("valid config (ours6 needs --features ipv6)"),
                );
                stack.listen(PORT).expect("listen");
                Server::Ours {
                    stack,
                    conns: Vec::new(),
                }
            }
            _ => {
                let mut dev = Dev::new(rx, tx);
                let mut cfg = Config::new(HardwareAddress::Ethernet(EthernetAddress([
                    2, 0, 0, 0, 0, 2,
                ])));
                cfg.random_seed = 9;
                let mut iface = Interface::new(cfg, &mut dev, Instant::from_millis(0));
                iface.update_ip_addrs(|a| {
                    let _ = a.push(IpCidr::new(Ipv4Address::new(10, 0, 0, 2).into(), 24));
                });
                let mut set = SocketSet::new(Vec::new());
                let handles = (0..n)
                    .map(|_| {
                        let mut s = tcp::Socket::new(
                            tcp::SocketBuffer::new(vec![0; BUF]),
                            tcp::SocketBuffer::new(vec![0; BUF]),
                        );
                        s.listen(PORT).expect("listen");
                        set.add(s)
                    })
                    .collect();
                Server::Plain {
                    iface,
                    dev,
                    set,
                    handles,
                }
            }
        }
    }

    /// One loop iteration of the server: poll, then echo on connection `active`.
    #[inline(never)]
    fn server_step(&mut self, now_us: u64, active: Option<usize>) {
        let mut buf = [0u8; 256];
        match self {
            Server::Ours { stack, conns } => {
                stack.poll_ingress(now_us);
                while let Ok(c) = stack.accept(PORT) {
                    conns.push(c);
                }
                if let Some(c) = active.and_then(|i| conns.get(i).copied())
                    && let Ok(n) = stack.recv(c, &mut buf)
                {
                    let _ = stack.send(c, &buf[..n]);
                }
                stack.poll_egress();
            }
            Server::Plain {
                iface,
                dev,
                set,
                handles,
            } => {
                // The same run-to-completion shape as ours, with one socket set.
                let now = Instant::from_micros(now_us as i64);
                while iface.poll_ingress_single(now, dev, set) != PollIngressSingleResult::None {}
                if let Some(h) = active.and_then(|i| handles.get(i).copied()) {
                    let s = set.get_mut::<tcp::Socket>(h);
                    if let Ok(n) = s.recv_slice(&mut buf) {
                        let _ = s.send_slice(&buf[..n]);
                    }
                }
                while iface.poll_egress(now, dev, set) != PollResult::None {}
                dev.flush();
            }
        }
    }

    /// The measured call: one server iteration of the echo phase.
    #[inline(never)]
    fn measured_step(&mut self, now_us: u64, active: usize) {
        self.server_step(now_us, Some(active));
    }

    fn frames(&self) -> u64 {
        let s = match self {
            Server::Ours { stack, .. } => stack.device_stats(),
            Server::Plain { dev, .. } => dev.stats(),
        };
        s.rx_frames + s.tx_frames
    }

    /// Index (in this server's own order) of the connection from client port `port`.
    fn find(&self, port: u16) -> Option<usize> {
        match self {
            Server::Ours { stack, conns } => conns
                .iter()
                .position(|&c| stack.remote(c).map(|r| r.1) == Some(port)),
            Server::Plain { set, handles, .. } => handles.iter().position(|&h| {
                set.get::<tcp::Socket>(h).remote_endpoint().map(|e| e.port) == Some(port)
            }),
        }
    }
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
    let kind = args.get(1).map_or("ours", String::as_str).to_owned();
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let trips: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(2000);

    let rss = RssConfig::new(1).expect("one queue");
    let server_nic = SimNic::new(rss.clone(), 1 << 16);
    let client_nic = SimNic::new(rss.clone(), 1 << 16);
    let mut server = Server::new(&kind, &server_nic, n);
    let (crx, ctx) = client_nic.queue_pair(0);
    let v6 = kind == "ours6";
    let client_cfg = stack_cfg(1, CLIENT_IP, n, v6.then_some(CLIENT_IP6));
    let mut client = CoreStack::new(client_cfg, &rss, crx, ctx, None, 0).expect("config");
    let mut now = 0u64;

    // Set up: open all connections, a batch per iteration.
    let mut conns = Vec::with_capacity(n);
    while conns.len() < n {
        for _ in 0..64.min(n - conns.len()) {
            let c = if v6 {
                client.connect((SERVER_IP6, PORT))
            } else {
                client.connect((SERVER_IP, PORT))
            };
            conns.push(c.expect("connect"));
        }
        for _ in 0..4 {
            now += 50;
            client.poll(now);
            pump(&client_nic, &server_nic);
            server.server_step(now, None);
            pump(&client_nic, &server_nic);
        }
    }
    for _ in 0..200 {
        now += 50;
        client.poll(now);
        pump(&client_nic, &server_nic);
        server.server_step(now, None);
        pump(&client_nic, &server_nic);
    }
    let active = conns[0];
    let port = client.local_port(active).expect("live");
    let server_idx = server
        .find(port)
        .expect("server side of the active connection");
    let open = conns
        .iter()
        .filter(|&&c| client.state(c) == Some(corenet_net::stack::ConnState::Established))
        .count();
    assert_eq!(open, n, "all connections established");

    // Measured phase.
    let frames0 = server.frames();
    let t0 = std::time::Instant::now();
    let msg = [0x5au8; 64];
    let mut buf = [0u8; 256];
    let mut iterations = 0u64;
    for _ in 0..trips {
        assert_eq!(client.send(active, &msg), Ok(64));
        let mut got = 0;
        while got < 64 {
            now += 50;
            iterations += 1;
            client.poll(now);
            pump(&client_nic, &server_nic);
            server.measured_step(now, server_idx);
            pump(&client_nic, &server_nic);
            if let Ok(k) = client.recv(active, &mut buf) {
                got += k;
            }
            assert!(iterations < 100 * trips as u64, "echo stalled");
        }
    }
    let dt = t0.elapsed();
    let frames = server.frames() - frames0;
    if let Server::Ours { stack, .. } = &server {
        eprintln!("server counters: {:?}", stack.counters().snapshot());
    }
    println!(
        "{kind} connections={n} round_trips={trips} server_frames={frames} loop_iterations={iterations} wall_ms={:.1} round_trips_per_s={:.0}",
        dt.as_secs_f64() * 1e3,
        trips as f64 / dt.as_secs_f64()
    );
}
