//! Per-core stacks over soft queues: a single-queue simulated NIC, the distributor pumping
//! it, and a peer host. Connections land on the core the hash names, active opens come
//! home, ARP resolves from every core, a lossy transfer arrives intact.

extern crate std;

use std::vec::Vec;

use corenet_nic::steering::RssConfig;
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::socket::{tcp, udp};
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpCidr, IpEndpoint, Ipv4Address};

use super::fake_hw::tcp_frame;
use super::{Distributor, SoftRx, SoftTx, soft_queues};
use crate::mesh;
use crate::sim::{Faults, PeerDevice, SimNic, SimRxQueue, SimTxQueue};
use crate::stack::{ConnState, CoreStack, SendError, StackConfig, UdpRecvError};

const OUR_IP: [u8; 4] = [10, 0, 0, 2];
const PEER_IP: [u8; 4] = [10, 0, 0, 1];
#[cfg(feature = "ipv6")]
const OUR_IP6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
#[cfg(feature = "ipv6")]
const PEER_IP6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];

type Core = CoreStack<SoftRx, SoftTx>;

/// N cores behind one hardware queue pair, and the peer host on the other end of the wire.
struct Rig {
    rss: RssConfig,
    nic: SimNic,
    hw: (SimRxQueue, SimTxQueue),
    dist: Distributor,
    cores: Vec<Core>,
    peer_iface: Interface,
    peer_dev: PeerDevice,
    peer: SocketSet<'static>,
    now: u64,
}

impl Rig {
    fn new(cores: usize, depth: usize, tcp_buffer: usize) -> Self {
        let rss = RssConfig::new(cores).unwrap();
        // The hardware has one queue: its own RSS, if any, sends everything to queue 0.
        let nic = SimNic::new(RssConfig::new(1).unwrap(), 4096);
        let hw = nic.queue_pair(0);
        let (dist, pairs) = soft_queues(&rss, depth).unwrap();
        let mut ports = mesh::mesh(cores).into_iter();
        let cores = pairs
            .into_iter()
            .enumerate()
            .map(|(q, (rx, tx))| {
                let mut cfg = StackConfig::new([2, 0, 0, 0, 0, 2], OUR_IP, 24, 1000 + q as u64);
                cfg.tcp_buffer = tcp_buffer;
                cfg.bucket_bits = 6;
                // 64 SYNs in one tick, about 16 per core: room for the unlucky core.
                cfg.backlog = 32;
                #[cfg(feature = "ipv6")]
                {
                    cfg.ipv6 = Some(crate::testkit::our_ipv6(None));
                }
                CoreStack::new(cfg, &rss, rx, tx, ports.next(), 0).unwrap()
            })
            .collect();
        let mut peer_dev = nic.peer_device();
        let mut cfg = Config::new(HardwareAddress::Ethernet(EthernetAddress([
            2, 0, 0, 0, 0, 1,
        ])));
        cfg.random_seed = 0xfeed;
        let mut peer_iface = Interface::new(cfg, &mut peer_dev, Instant::from_millis(0));
        peer_iface.update_ip_addrs(|a| {
            let _ = a.push(IpCidr::new(Ipv4Address::new(10, 0, 0, 1).into(), 24));
            #[cfg(feature = "ipv6")]
            let _ = a.push(IpCidr::new(
                smoltcp::wire::Ipv6Address::from(PEER_IP6).into(),
                64,
            ));
        });
        Self {
            rss,
            nic,
            hw,
            dist,
            cores,
            peer_iface,
            peer_dev,
            peer: SocketSet::new(Vec::new()),
            now: 0,
        }
    }

    fn socket(buf: usize) -> tcp::Socket<'static> {
        tcp::Socket::new(
            tcp::SocketBuffer::new(std::vec![0; buf]),
            tcp::SocketBuffer::new(std::vec![0; buf]),
        )
    }

    fn peer_connect(&mut self, local_port: u16, remote_port: u16, buf: usize) -> SocketHandle {
        let mut s = Self::socket(buf);
        let [a, b, c, d] = OUR_IP;
        s.connect(
            self.peer_iface.context(),
            (Ipv4Address::new(a, b, c, d), remote_port),
            local_port,
        )
        .unwrap();
        self.peer.add(s)
    }

    fn peer_listen(&mut self, port: u16) -> SocketHandle {
        let mut s = Self::socket(4096);
        s.listen(port).unwrap();
        self.peer.add(s)
    }

    /// One tick of 1 ms: the peer, then the hardware core's pump, every core's loop, and a
    /// second pump to carry out what the cores sent.
    fn step(&mut self) {
        self.now += 1000;
        let t = Instant::from_micros(self.now as i64);
        self.peer_iface.poll(t, &mut self.peer_dev, &mut self.peer);
        let (hw_rx, hw_tx) = &mut self.hw;
        self.dist.pump(hw_rx, hw_tx, 256);
        for c in &mut self.cores {
            c.poll(self.now);
        }
        self.dist.pump(hw_rx, hw_tx, 256);
    }

    fn run(&mut self, steps: usize) {
        for _ in 0..steps {
            self.step();
        }
    }
}

#[test]
fn passive_opens_land_on_the_core_the_hash_names_and_every_core_serves() {
    let mut rig = Rig::new(4, 64, 4096);
    for c in &mut rig.cores {
        c.listen(80).unwrap();
    }
    let n = 64u16;
    let handles: Vec<_> = (0..n)
        .map(|i| rig.peer_connect(20_000 + i * 13, 80, 4096))
        .collect();
    rig.run(50);
    let mut seen = std::collections::HashSet::new();
    for (q, c) in rig.cores.iter_mut().enumerate() {
        assert!(c.counters().accepted.get() > 0, "core {q} served nobody");
        while let Ok(conn) = c.accept(80) {
            let (addr, port) = c.remote(conn).unwrap();
            assert_eq!(addr, PEER_IP);
            assert_eq!(
                usize::from(rig.rss.queue_ipv4_l4(PEER_IP, OUR_IP, port, 80)),
                q
            );
            assert!(seen.insert(port));
            assert_eq!(c.send(conn, &port.to_be_bytes()), Ok(2));
        }
    }
    let backlog: u64 = rig
        .cores
        .iter()
        .map(|c| c.counters().drop_backlog_empty.get())
        .sum();
    assert_eq!(seen.len(), usize::from(n), "backlog drops {backlog}");
    rig.run(20);
    for h in handles {
        let s = rig.peer.get_mut::<tcp::Socket>(h);
        let mut b = [0u8; 2];
        assert_eq!(s.recv_slice(&mut b), Ok(2));
        assert_eq!(u16::from_be_bytes(b), s.local_endpoint().unwrap().port);
    }
    for c in &rig.cores {
        assert_eq!(c.counters().drop_no_socket.get(), 0);
        assert_eq!(c.counters().retransmissions.get(), 0);
    }
    let d = rig.dist.counters();
    assert_eq!(d.drop_ring_full.get(), 0);
    assert_eq!(d.rx_frames.get(), d.rx_delivered.get());
    // At least a SYN-ACK and the data segment per connection went out.
    assert!(d.tx_frames.get() >= 2 * u64::from(n));
}

/// IPv6 through the distributor: it steers IPv6 TCP by the IPv6 Toeplitz 4-tuple (passive
/// opens land on the hash's core), NDP (hashed on addresses) is shared over the mesh, and
/// active opens come home.
#[cfg(feature = "ipv6")]
#[test]
fn ipv6_opens_both_ways_land_on_the_hash_core() {
    let mut rig = Rig::new(4, 64, 4096);
    for c in &mut rig.cores {
        c.listen(80).unwrap();
    }
    let n = 32u16;
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let mut s = Rig::socket(4096);
            s.connect(
                rig.peer_iface.context(),
                (smoltcp::wire::Ipv6Address::from(OUR_IP6), 80),
                21_000 + i * 11,
            )
            .unwrap();
            rig.peer.add(s)
        })
        .collect();
    for _ in 0..16 {
        rig.peer_listen(7);
    }
    let mut active = Vec::new();
    for (q, c) in rig.cores.iter_mut().enumerate() {
        for _ in 0..4 {
            active.push((q, c.connect((PEER_IP6, 7)).unwrap()));
        }
    }
    rig.run(60);
    let mut served = 0;
    for (q, c) in rig.cores.iter_mut().enumerate() {
        while let Ok(conn) = c.accept(80) {
            let (addr, port) = c.remote(conn).unwrap();
            assert_eq!(addr, crate::IpAddr::V6(PEER_IP6));
            assert_eq!(
                usize::from(rig.rss.queue_ipv6_l4(PEER_IP6, OUR_IP6, port, 80)),
                q
            );
            served += 1;
        }
        assert_eq!(c.counters().wrong_core.get(), 0);
    }
    assert_eq!(served, n);
    for (q, conn) in active {
        assert_eq!(rig.cores[q].state(conn), Some(ConnState::Established));
    }
    let _ = handles;
}

#[test]
fn active_opens_from_every_core_come_home() {
    let mut rig = Rig::new(4, 64, 4096);
    let per_core = 12;
    for _ in 0..per_core * 4 {
        rig.peer_listen(7);
    }
    let mut conns = Vec::new();
    for (q, c) in rig.cores.iter_mut().enumerate() {
        for _ in 0..per_core {
            let conn = c.connect((PEER_IP, 7)).unwrap();
            let port = c.local_port(conn).unwrap();
            assert_eq!(
                usize::from(rig.rss.queue_ipv4_l4(PEER_IP, OUR_IP, 7, port)),
                q
            );
            conns.push((q, conn));
        }
    }
    rig.run(50);
    for &(q, conn) in &conns {
        assert_eq!(
            rig.cores[q].state(conn),
            Some(ConnState::Established),
            "core {q}"
        );
    }
    for c in &rig.cores {
        assert_eq!(c.counters().drop_no_socket.get(), 0);
    }
}

#[test]
fn arp_resolves_from_every_core() {
    for k in 0..4 {
        let mut rig = Rig::new(4, 32, 4096);
        rig.peer_listen(7);
        let conn = rig.cores[k].connect((PEER_IP, 7)).unwrap();
        rig.run(30);
        assert_eq!(
            rig.cores[k].state(conn),
            Some(ConnState::Established),
            "core {k}"
        );
        // The peer's ARP reply is unhashable: the distributor gave it to core 0, which
        // copied it to the others over the mesh.
        assert!(rig.dist.counters().rx_unhashed.get() > 0);
        if k != 0 {
            assert!(rig.cores[k].counters().frames_from_peers.get() > 0);
        }
    }
}

#[test]
fn a_flood_fills_a_ring_drops_are_counted_and_service_goes_on() {
    let mut rig = Rig::new(2, 16, 4096);
    for c in &mut rig.cores {
        c.listen(80).unwrap();
    }
    // 200 junk segments of one flow arrive before anyone polls: one core's ring overflows.
    let flood = |tag| tcp_frame(PEER_IP, 33_333, 9, tag, 80);
    let target = usize::from(crate::sim::steer(&rig.rss, &flood(0)));
    for tag in 0..200 {
        rig.nic.deliver(flood(tag));
    }
    let (hw_rx, hw_tx) = &mut rig.hw;
    let r = rig.dist.pump(hw_rx, hw_tx, 512);
    assert_eq!((r.rx_frames, r.rx_delivered, r.rx_dropped), (200, 16, 184));
    assert_eq!(rig.dist.ring_full(target), 184);
    assert_eq!(rig.dist.ring_full(1 - target), 0);
    // The flood is consumed; real connections to both cores then work.
    let handles: Vec<_> = (0..16)
        .map(|i| rig.peer_connect(40_000 + i, 80, 4096))
        .collect();
    rig.run(40);
    for h in handles {
        assert_eq!(
            rig.peer.get::<tcp::Socket>(h).state(),
            tcp::State::Established
        );
    }
    let accepted: u64 = rig.cores.iter().map(|c| c.counters().accepted.get()).sum();
    assert_eq!(accepted, 16);
}

#[test]
fn udp_datagrams_reach_the_hash_core_and_replies_go_back() {
    let mut rig = Rig::new(4, 64, 4096);
    let socks: Vec<_> = rig
        .cores
        .iter_mut()
        .map(|c| c.udp_bind(53).unwrap())
        .collect();
    let buf = || {
        udp::PacketBuffer::new(
            std::vec![udp::PacketMetadata::EMPTY; 4],
            std::vec![0u8; 4 * 1500],
        )
    };
    let [a, b, c, d] = OUR_IP;
    let to = IpEndpoint::new(Ipv4Address::new(a, b, c, d).into(), 53);
    let peers: Vec<_> = (0..24u16)
        .map(|i| {
            let mut s = udp::Socket::new(buf(), buf());
            s.bind(5000 + i).unwrap();
            s.send_slice(&(5000 + i).to_be_bytes(), to).unwrap();
            rig.peer.add(s)
        })
        .collect();
    rig.run(10);
    let mut served = [0usize; 4];
    for (q, c) in rig.cores.iter_mut().enumerate() {
        let mut b = [0u8; 16];
        loop {
            match c.udp_recv_from(socks[q], &mut b) {
                Ok((n, (addr, port))) => {
                    assert_eq!((n, addr), (2, crate::IpAddr::V4(PEER_IP)));
                    assert_eq!(u16::from_be_bytes([b[0], b[1]]), port);
                    assert_eq!(
                        usize::from(rig.rss.queue_ipv4_l4(PEER_IP, OUR_IP, port, 53)),
                        q
                    );
                    c.udp_send_to(socks[q], &[q as u8], (PEER_IP, port))
                        .unwrap();
                    served[q] += 1;
                }
                Err(UdpRecvError::WouldBlock) => break,
                Err(e) => panic!("core {q}: {e:?}"),
            }
        }
    }
    assert_eq!(served.iter().sum::<usize>(), 24);
    assert!(served.iter().all(|&n| n > 0), "{served:?}");
    rig.run(10);
    for (i, h) in peers.into_iter().enumerate() {
        let s = rig.peer.get_mut::<udp::Socket>(h);
        let (data, _) = s.recv().unwrap();
        let port = 5000 + i as u16;
        assert_eq!(
            data,
            [rig.rss.queue_ipv4_l4(PEER_IP, OUR_IP, port, 53) as u8],
            "the reply came from the core the hash names"
        );
    }
}

/// The byte at `i` of a stream seeded with `seed`.
fn byte(seed: u64, i: u64) -> u8 {
    let mut x = (i ^ seed).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    x ^= x >> 31;
    x as u8
}

#[test]
fn megabytes_both_ways_through_loss_corruption_and_reordering() {
    let len: u64 = 4 << 20;
    let mut rig = Rig::new(4, 128, 32 * 1024);
    for c in &mut rig.cores {
        c.listen(5001).unwrap();
    }
    let ph = rig.peer_connect(41_000, 5001, 64 * 1024);
    rig.run(10);
    rig.nic.set_faults(Faults {
        loss: 10,
        corrupt: 5,
        reorder: 20,
        seed: 0x50f7,
    });
    let mut conn = None;
    let (mut up_sent, mut up_recv, mut down_sent, mut down_recv) = (0u64, 0u64, 0u64, 0u64);
    let mut buf = std::vec![0u8; 16 * 1024];
    let mut steps = 0;
    while up_recv < len || down_recv < len {
        steps += 1;
        assert!(steps < 400_000, "stalled: up {up_recv} down {down_recv}");
        rig.step();
        if conn.is_none() {
            conn = rig
                .cores
                .iter_mut()
                .enumerate()
                .find_map(|(q, c)| c.accept(5001).ok().map(|h| (q, h)));
        }
        let Some((q, h)) = conn else { continue };
        let ps = rig.peer.get_mut::<tcp::Socket>(ph);
        if up_sent < len && ps.can_send() {
            let n = ps
                .send(|b| {
                    let n = b.len().min((len - up_sent) as usize);
                    for (i, x) in b[..n].iter_mut().enumerate() {
                        *x = byte(1, up_sent + i as u64);
                    }
                    (n, n)
                })
                .unwrap();
            up_sent += n as u64;
        }
        let core = &mut rig.cores[q];
        while let Ok(n) = core.recv(h, &mut buf) {
            for (i, &x) in buf[..n].iter().enumerate() {
                assert_eq!(x, byte(1, up_recv + i as u64), "upstream byte {up_recv}");
            }
            up_recv += n as u64;
        }
        while down_sent < len {
            let n = ((len - down_sent) as usize).min(buf.len());
            for (i, x) in buf[..n].iter_mut().enumerate() {
                *x = byte(2, down_sent + i as u64);
            }
            match core.send(h, &buf[..n]) {
                Ok(k) => down_sent += k as u64,
                Err(SendError::WouldBlock) => break,
                Err(e) => panic!("send: {e:?}"),
            }
        }
        let ps = rig.peer.get_mut::<tcp::Socket>(ph);
        while ps.can_recv() {
            let base = down_recv;
            let n = ps
                .recv(|b| {
                    for (i, &x) in b.iter().enumerate() {
                        assert_eq!(x, byte(2, base + i as u64), "downstream byte {base}");
                    }
                    (b.len(), b.len())
                })
                .unwrap();
            down_recv += n as u64;
        }
    }
    let w = rig.nic.stats();
    assert!(w.lost > 0 && w.corrupted > 0 && w.reordered > 0, "{w:?}");
    let (q, _) = conn.unwrap();
    assert!(rig.cores[q].counters().retransmissions.get() > 0);
    let accepted: u64 = rig.cores.iter().map(|c| c.counters().accepted.get()).sum();
    assert_eq!(accepted, 1);
    assert_eq!(rig.dist.counters().drop_ring_full.get(), 0);
}
