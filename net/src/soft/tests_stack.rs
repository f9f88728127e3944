//! Per-core stacks over soft queues: a single-queue simulated NIC, the distributor pumping
//! it, and a peer host. Connections land on the core the hash names, active opens come
//! home, ARP resolves from every core, a lossy transfer arrives intact.

extern crate std;

use std::vec::Vec;

use corenet_nic::steering::RssConfig;
use smoltcp::socket::{tcp, udp};
use smoltcp::wire::IpEndpoint;

use super::fake_hw::tcp_frame;
use super::{Distributor, SoftRx, SoftTx, soft_queues};
use crate::sim::{Faults, SimNic, SimRxQueue, SimTxQueue};
use crate::stack::{ConnState, CoreStack, UdpRecvError};
use crate::testkit::{OUR_IP, PEER_IP, Parts, Peer, World, bulk_both_ways, ip4, stacks};
#[cfg(feature = "ipv6")]
use crate::testkit::{OUR_IP6, PEER_IP6, ip6, our_ipv6};

type Core = CoreStack<SoftRx, SoftTx>;

/// N cores behind one hardware queue pair, and the peer host on the other end of the wire.
struct SoftRig {
    rss: RssConfig,
    nic: SimNic,
    hw: (SimRxQueue, SimTxQueue),
    dist: Distributor,
    cores: Vec<Core>,
    peer: Peer,
    now: u64,
}

impl SoftRig {
    fn new(cores: usize, depth: usize, tcp_buffer: usize) -> Self {
        let rss = RssConfig::new(cores).unwrap();
        // The hardware has one queue: its own RSS, if any, sends everything to queue 0.
        let nic = SimNic::new(RssConfig::new(1).unwrap(), 4096);
        let hw = nic.queue_pair(0);
        let (dist, pairs) = soft_queues(&rss, depth).unwrap();
        let cores = stacks(&rss, pairs, true, |_, cfg| {
            cfg.tcp_buffer = tcp_buffer;
            // 64 SYNs in one tick, about 16 per core: room for the unlucky core.
            cfg.backlog = 32;
            #[cfg(feature = "ipv6")]
            {
                cfg.ipv6 = Some(our_ipv6(None));
            }
        });
        let peer = Peer::new(&nic);
        #[cfg(feature = "ipv6")]
        let peer = peer.with_ipv6(PEER_IP6);
        Self {
            rss,
            nic,
            hw,
            dist,
            cores,
            peer,
            now: 0,
        }
    }

    /// One tick of 1 ms: the peer, then the hardware core's pump, every core's loop, and a
    /// second pump to carry out what the cores sent.
    fn step(&mut self) {
        self.now += 1000;
        self.peer.poll(self.now);
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

impl World for SoftRig {
    type Rx = SoftRx;
    type Tx = SoftTx;
    type Dev = crate::sim::PeerDevice;

    fn step(&mut self) {
        SoftRig::step(self);
    }

    fn parts(&mut self) -> Parts<'_, Self> {
        (&mut self.cores, &mut self.peer)
    }
}

#[test]
fn passive_opens_land_on_the_core_the_hash_names_and_every_core_serves() {
    let mut rig = SoftRig::new(4, 64, 4096);
    for c in &mut rig.cores {
        c.listen(80).unwrap();
    }
    let n = 64u16;
    let handles: Vec<_> = (0..n)
        .map(|i| rig.peer.connect(20_000 + i * 13, 80))
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
        let s = rig.peer.tcp(h);
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
    let mut rig = SoftRig::new(4, 64, 4096);
    for c in &mut rig.cores {
        c.listen(80).unwrap();
    }
    let n = 32u16;
    let handles: Vec<_> = (0..n)
        .map(|i| rig.peer.open((ip6(OUR_IP6), 80), 21_000 + i * 11, 4096))
        .collect();
    for _ in 0..16 {
        rig.peer.listen(7, 4096);
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
    let mut rig = SoftRig::new(4, 64, 4096);
    let per_core = 12;
    for _ in 0..per_core * 4 {
        rig.peer.listen(7, 4096);
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
        let mut rig = SoftRig::new(4, 32, 4096);
        rig.peer.listen(7, 4096);
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
    let mut rig = SoftRig::new(2, 16, 4096);
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
    let handles: Vec<_> = (0..16).map(|i| rig.peer.connect(40_000 + i, 80)).collect();
    rig.run(40);
    for h in handles {
        assert_eq!(rig.peer.tcp(h).state(), tcp::State::Established);
    }
    let accepted: u64 = rig.cores.iter().map(|c| c.counters().accepted.get()).sum();
    assert_eq!(accepted, 16);
}

#[test]
fn udp_datagrams_reach_the_hash_core_and_replies_go_back() {
    let mut rig = SoftRig::new(4, 64, 4096);
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
    let to = IpEndpoint::new(ip4(OUR_IP), 53);
    let peers: Vec<_> = (0..24u16)
        .map(|i| {
            let mut s = udp::Socket::new(buf(), buf());
            s.bind(5000 + i).unwrap();
            s.send_slice(&(5000 + i).to_be_bytes(), to).unwrap();
            rig.peer.sockets.add(s)
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
        let s = rig.peer.sockets.get_mut::<udp::Socket>(h);
        let (data, _) = s.recv().unwrap();
        let port = 5000 + i as u16;
        assert_eq!(
            data,
            [rig.rss.queue_ipv4_l4(PEER_IP, OUR_IP, port, 53) as u8],
            "the reply came from the core the hash names"
        );
    }
}

#[test]
fn megabytes_both_ways_through_loss_corruption_and_reordering() {
    let mut rig = SoftRig::new(4, 128, 32 * 1024);
    for c in &mut rig.cores {
        c.listen(5001).unwrap();
    }
    let ph = rig.peer.open((ip4(OUR_IP), 5001), 41_000, 64 * 1024);
    rig.run(10);
    rig.nic.set_faults(Faults {
        loss: 10,
        corrupt: 5,
        reorder: 20,
        seed: 0x50f7,
    });
    let (q, _) = bulk_both_ways(&mut rig, ph, 5001, 4 << 20, 400_000);
    let w = rig.nic.stats();
    assert!(w.lost > 0 && w.corrupted > 0 && w.reordered > 0, "{w:?}");
    assert!(rig.cores[q].counters().retransmissions.get() > 0);
    let accepted: u64 = rig.cores.iter().map(|c| c.counters().accepted.get()).sum();
    assert_eq!(accepted, 1);
    assert_eq!(rig.dist.counters().drop_ring_full.get(), 0);
}
