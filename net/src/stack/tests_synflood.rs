//! SYN floods on a virtual clock: service during and after a spoofed flood, and the bounded
//! half-open set (oldest evicted, SYN-RECEIVED timeout).

extern crate std;

use std::collections::HashMap;
use std::vec::Vec;

use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp;
use smoltcp::wire::{TcpControl, TcpRepr, TcpSeqNumber};

use super::synwire;
use super::*;
use crate::sim::SimNic;
use crate::testkit::{Core, OUR_IP, OUR_MAC, PEER_IP, Peer, Rng, cores_with};

const ATTACKER_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x66];

/// A TCP segment from `src` as an Ethernet frame to us.
pub(super) fn segment(src_mac: [u8; 6], src: [u8; 4], r: &TcpRepr) -> Vec<u8> {
    let mut f = std::vec![0u8; 34 + r.buffer_len()];
    let (src, dst) = (crate::ip::IpAddr::V4(src), crate::ip::IpAddr::V4(OUR_IP));
    synwire::emit(&mut f, (OUR_MAC, src_mac), (src, dst), 64, r);
    f
}

pub(super) fn syn_repr(sport: u16, dport: u16, seq: u32) -> TcpRepr<'static> {
    TcpRepr {
        src_port: sport,
        dst_port: dport,
        control: TcpControl::Syn,
        seq_number: TcpSeqNumber(seq as i32),
        ack_number: None,
        window_len: 1024,
        window_scale: None,
        max_seg_size: Some(1460),
        sack_permitted: false,
        sack_ranges: [None; 3],
        timestamp: None,
        payload: &[],
    }
}

/// The attacker: "random" sources, ports and sequence numbers from a seeded [`Rng`].
struct Attacker(Rng);

impl Attacker {
    /// A spoofed SYN to `port` from a random off-subnet source (routed via the gateway).
    fn spoofed_syn(&mut self, port: u16) -> Vec<u8> {
        let r = self.0.next();
        let src = [
            100,
            64 + (r as u8 & 63),
            (r >> 8) as u8,
            (r >> 16) as u8 | 1,
        ];
        let sport = 1024 + (r >> 24) as u16 % 60_000;
        segment(ATTACKER_MAC, src, &syn_repr(sport, port, (r >> 32) as u32))
    }

    /// A bare ACK to `port` for no connection, acknowledging a guessed cookie.
    fn forged_ack(&mut self, port: u16) -> Vec<u8> {
        let r = self.0.next();
        let src = [
            100,
            64 + (r as u8 & 63),
            (r >> 8) as u8,
            (r >> 16) as u8 | 1,
        ];
        let mut a = syn_repr(1024 + (r >> 24) as u16 % 60_000, port, (r >> 32) as u32);
        a.control = TcpControl::None;
        a.max_seg_size = None;
        a.ack_number = Some(TcpSeqNumber(self.0.next() as i32));
        segment(ATTACKER_MAC, src, &a)
    }
}

/// One simulated millisecond: the peer, then the core.
pub(super) fn tick(core: &mut Core, peer: &mut Peer, now: &mut u64) {
    *now += 1000;
    peer.poll(*now);
    core.poll(*now);
}

/// One core listening on port 80 and the peer connected to it from port 40 000: the core,
/// the peer, the peer's socket and our accepted connection, `now` past the handshake.
pub(super) fn connected(
    nic: &SimNic,
    rss: &RssConfig,
    now: &mut u64,
) -> (Core, Peer, SocketHandle, TcpConn) {
    let mut core = cores_with(nic, rss, false, |_| {}).pop().expect("one core");
    let mut peer = Peer::new(nic);
    core.listen(80).expect("listens");
    let h = peer.connect(40_000, 80);
    for _ in 0..100 {
        tick(&mut core, &mut peer, now);
        if let Ok(c) = core.accept(80) {
            return (core, peer, h, c);
        }
    }
    panic!("not accepted within 100 ms");
}

#[test]
fn a_flood_does_not_stop_service() {
    let rss = RssConfig::new(1).unwrap();
    let nic = SimNic::new(rss.clone(), 1 << 16);
    let max = 200;
    let mut cores = cores_with(&nic, &rss, true, |c| {
        c.max_connections = max;
        c.syn_received_timeout_ms = 3_000; // the flood's half-open connections expire in the run
        c.gateway = Some(PEER_IP); // spoofed sources are off-subnet: SYN-ACKs go the router
    });
    let mut core = cores.pop().unwrap();
    let mut peer = Peer::new(&nic);
    core.listen(80).unwrap();
    let mut now = 0;

    // An established connection carrying a stream through the whole flood.
    // At most 1 KiB per ms: the stream lasts longer than the flood.
    const TOTAL: usize = 1_200_000;
    let pattern = |i: usize| (i % 251) as u8;
    let bulk_peer = peer.connect(30_000, 80);
    let mut bulk = None;
    for _ in 0..20 {
        tick(&mut core, &mut peer, &mut now);
        if let Ok(c) = core.accept(80) {
            bulk = Some(c);
            break;
        }
    }
    let bulk = bulk.expect("bulk connection accepted");
    let (mut sent, mut got) = (0usize, 0usize);

    // Legitimate clients: (peer socket, the core's handle once accepted).
    let mut clients: HashMap<u16, (SocketHandle, Option<TcpConn>)> = HashMap::new();
    let mut rng = Attacker(Rng(0x2545_f491_4f6c_dd1d));
    let mut flow_per_window = Vec::new();
    let mut step =
        |core: &mut Core,
         peer: &mut Peer,
         now: &mut u64,
         clients: &mut HashMap<u16, (SocketHandle, Option<TcpConn>)>| {
            let s = peer.tcp(bulk_peer);
            if sent < TOTAL && s.can_send() {
                let mut chunk = [0u8; 1024];
                let n = chunk.len().min(TOTAL - sent);
                for (k, b) in chunk[..n].iter_mut().enumerate() {
                    *b = pattern(sent + k);
                }
                sent += s.send_slice(&chunk[..n]).unwrap_or(0);
            }
            tick(core, peer, now);
            let mut buf = [0u8; 4096];
            while let Ok(n) = core.recv(bulk, &mut buf) {
                for (k, &b) in buf[..n].iter().enumerate() {
                    assert_eq!(b, pattern(got + k), "stream byte {}", got + k);
                }
                got += n;
            }
            while let Ok(c) = core.accept(80) {
                let (_, port) = core.remote(c).unwrap();
                let e = clients
                    .get_mut(&port)
                    .expect("only our clients get through");
                e.1 = Some(c);
            }
            assert!(
                core.connections() <= max,
                "{} connections",
                core.connections()
            );
            assert!(core.half_open() <= 128, "the port's budget");
            got
        };

    // 20 000 spoofed SYNs (and 1 000 forged cookie ACKs) over one second, 20 (+1) per ms;
    // a new legitimate client every 100 ms.
    let mut last_got = 0;
    for ms in 0..1000 {
        for _ in 0..20 {
            nic.deliver(rng.spoofed_syn(80));
        }
        nic.deliver(rng.forged_ack(80));
        if ms % 100 == 50 {
            let port = 40_000 + ms as u16;
            clients.insert(port, (peer.connect(port, 80), None));
        }
        let g = step(&mut core, &mut peer, &mut now, &mut clients);
        if ms % 100 == 99 {
            flow_per_window.push(g - last_got);
            last_got = g;
        }
    }
    let c = core.counters().snapshot();
    assert!(c.syncookies_sent > 15_000, "{c:?}");
    // (The first few forged ACKs come before any cookie was sent: not even looked at.)
    assert!(c.syncookies_rejected >= 990, "{c:?}");
    // The stream kept flowing in every 100 ms of the flood.
    assert!(
        flow_per_window.iter().all(|&n| n > 0),
        "{flow_per_window:?}"
    );
    // Every client that came during the flood was accepted, through a cookie.
    for (port, (h, conn)) in &clients {
        assert!(conn.is_some(), "client {port} not accepted: {c:?}");
        let s = peer.tcp(*h);
        assert_eq!(s.state(), tcp::State::Established, "client {port}");
    }
    assert!(c.syncookies_validated >= clients.len() as u64, "{c:?}");

    // After the flood: new clients are served within 1 s of virtual time.
    let flood_end = now;
    let after: Vec<u16> = (0..5).map(|k| 50_000 + k).collect();
    for &port in &after {
        clients.insert(port, (peer.connect(port, 80), None));
    }
    while now < flood_end + 1_000_000 {
        step(&mut core, &mut peer, &mut now, &mut clients);
    }
    for port in &after {
        assert!(clients[port].1.is_some(), "client {port} after the flood");
    }
    // Cookie connections carry data both ways.
    for (port, (h, conn)) in &clients {
        let conn = conn.unwrap();
        assert_eq!(core.send(conn, &port.to_be_bytes()), Ok(2));
        let s = peer.tcp(*h);
        s.send_slice(b"hi").unwrap();
    }
    for _ in 0..20 {
        step(&mut core, &mut peer, &mut now, &mut clients);
    }
    for (port, (h, conn)) in &clients {
        let mut b = [0u8; 2];
        assert_eq!(core.recv(conn.unwrap(), &mut b), Ok(2), "client {port}");
        assert_eq!(&b, b"hi");
        let s = peer.tcp(*h);
        assert_eq!(s.recv_slice(&mut b), Ok(2));
        assert_eq!(u16::from_be_bytes(b), *port);
    }
    // The stream completes intact; half-open connections of the flood time out (3 s).
    let mut received = 0;
    while now < flood_end + 5_000_000 || received < TOTAL && now < flood_end + 10_000_000 {
        received = step(&mut core, &mut peer, &mut now, &mut clients);
    }
    assert_eq!(received, TOTAL);
    assert_eq!(core.half_open(), 0);
    assert_eq!(core.connections(), 1 + clients.len());
    assert!(core.counters().embryonic_dropped.get() > 0);
}

#[test]
fn at_the_core_bound_syns_get_cookies_and_a_cookie_ack_evicts_the_oldest() {
    let rss = RssConfig::new(1).unwrap();
    let nic = SimNic::new(rss.clone(), 4096);
    let mut cores = cores_with(&nic, &rss, true, |c| {
        c.half_open_max = 8;
        c.half_open_per_port = 6;
        c.syn_received_timeout_ms = 3_000;
        c.max_connections = 8;
        c.gateway = Some(PEER_IP);
    });
    let core = &mut cores[0];
    core.listen(80).unwrap();
    core.listen(81).unwrap();
    let src = |i: u8| [100, 64, 0, i];
    let mut now = 0;
    // 5 SYNs to each port, 1 ms apart: sources 1..=10 in arrival order. The first 8 fill
    // the core's half-open bound (both ports under their budget of 6); 9 and 10 get cookies
    // and evict nobody.
    for i in 1..=10u8 {
        let port = if i % 2 == 1 { 80 } else { 81 };
        nic.deliver(segment(ATTACKER_MAC, src(i), &syn_repr(5000, port, 7)));
        now += 1000;
        core.poll(now);
        assert!(core.half_open() <= 8);
    }
    let c = core.counters().snapshot();
    assert_eq!((core.half_open(), c.half_open_evicted), (8, 0));
    assert_eq!(c.syncookies_sent, 2);
    assert_eq!(core.connections(), 8);
    // Source 9 answers its cookie: at the connection limit, the oldest half-open connection
    // (source 1) is evicted for it.
    let mut cookie = None;
    while let Some(f) = nic.take_sent() {
        if let Some(s) = synwire::parse(&f, |_| true)
            && s.dst == crate::ip::IpAddr::V4(src(9))
        {
            cookie = Some(s.seq);
        }
    }
    let ack = |i: u8, port, ack: u32| {
        let mut a = syn_repr(5000, port, 8);
        a.control = TcpControl::None;
        a.max_seg_size = None;
        a.ack_number = Some(TcpSeqNumber(ack as i32));
        segment(ATTACKER_MAC, src(i), &a)
    };
    nic.deliver(ack(
        9,
        80,
        cookie.expect("cookie SYN-ACK to 9").wrapping_add(1),
    ));
    now += 1000;
    core.poll(now);
    let c = core.counters().snapshot();
    assert_eq!((c.syncookies_validated, c.half_open_evicted), (1, 1));
    assert_eq!((core.half_open(), core.connections()), (7, 8));
    let conn = core.accept(80).expect("cookie connection accepted");
    assert_eq!(
        core.remote(conn),
        Some((crate::ip::IpAddr::V4(src(9)), 5000))
    );
    // Source 1's connection is gone: its ACK finds nothing (and is no cookie); 3's is there.
    nic.deliver(ack(1, 80, 1));
    now += 1000;
    core.poll(now);
    assert_eq!(core.counters().drop_no_socket.get(), 1);
    nic.deliver(ack(3, 80, 1));
    now += 1000;
    core.poll(now);
    assert_eq!(core.counters().drop_no_socket.get(), 1);
    // Past the SYN-RECEIVED timeout every half-open one is gone.
    for _ in 0..40 {
        now += 100_000;
        core.poll(now);
    }
    assert_eq!((core.half_open(), core.connections()), (0, 1));
}
