//! The full TCP path over the driver: net/'s per-core stacks on the model's queues
//! ([`super::net_rig`]) serve passive opens on the core the Toeplitz hash names, get replies
//! to their active opens on their own core, and move megabytes intact, also through loss
//! and corruption.

use std::vec;
use std::vec::Vec;

use corenet_net::stack::ConnState;
use corenet_net::testkit::ip4;
use corenet_net::testkit::pattern::{fill, first_wrong};
use smoltcp::socket::tcp;

use super::net_rig::*;

const QUEUES: u16 = 4;

/// The peer's socket: no congestion control, so it sends whole windows at once (the bursts
/// that overrun a small receive ring; smoltcp's default controller would pace them).
fn socket(buf: usize) -> tcp::Socket<'static> {
    let mut s = Peer::socket(buf);
    s.set_congestion_control(tcp::CongestionControl::None);
    s
}

#[test]
fn passive_opens_from_many_source_ports_land_on_the_core_the_hash_names() {
    let mut rig = Rig::new(QUEUES, 0x000a_551e, 4096);
    for c in &mut rig.cores {
        c.listen(80).unwrap();
    }
    let ports: Vec<u16> = (0..96u16).map(|i| 20_000 + i * 37).collect();
    let handles: Vec<_> = ports
        .iter()
        .map(|&p| {
            let mut s = socket(1024);
            s.connect(rig.peer.iface.context(), (ip4(OUR_IP), 80), p)
                .unwrap();
            rig.peer.sockets.add(s)
        })
        .collect();
    // A core takes at most its backlog (16) of SYNs per poll and drops the rest quietly;
    // the peer's retransmitted SYNs find fresh sockets, so run until all are served.
    let mut served = vec![0usize; usize::from(QUEUES)];
    let mut steps = 0;
    while served.iter().sum::<usize>() < ports.len() {
        steps += 1;
        assert!(steps < 10_000, "served only {served:?}");
        rig.step();
        // Each core accepts exactly the flows the hash and the (lopsided) RETA give it.
        for (q, c) in rig.cores.iter_mut().enumerate() {
            while let Ok(conn) = c.accept(80) {
                let (addr, port) = c.remote(conn).unwrap();
                assert_eq!(addr, PEER_IP);
                assert_eq!(
                    usize::from(rig.rss.queue_ipv4_l4(PEER_IP, OUR_IP, port, 80)),
                    q,
                    "flow from port {port} served by core {q}"
                );
                // Tell the peer who served it.
                let msg = [q as u8, (port >> 8) as u8, port as u8];
                assert_eq!(c.send(conn, &msg), Ok(3));
                served[q] += 1;
            }
        }
    }
    for (q, &got) in served.iter().enumerate() {
        let predicted = ports
            .iter()
            .filter(|&&p| usize::from(rig.rss.queue_ipv4_l4(PEER_IP, OUR_IP, p, 80)) == q)
            .count();
        assert!(got > 0, "core {q} served nothing");
        assert_eq!(got, predicted, "core {q}");
        assert_eq!(rig.cores[q].counters().accepted.get(), predicted as u64);
    }
    rig.run(10);
    for (&h, &p) in handles.iter().zip(&ports) {
        let s = rig.peer.tcp(h);
        let mut got = [0u8; 3];
        assert_eq!(s.recv_slice(&mut got), Ok(3), "port {p}");
        let q = rig.rss.queue_ipv4_l4(PEER_IP, OUR_IP, p, 80);
        assert_eq!(got, [q as u8, (p >> 8) as u8, p as u8]);
    }
    // The model's RSS delivered to every queue (ARP and SYNs alike went where RETA says).
    let w = rig.wire.borrow();
    assert!(w.log.delivered.iter().all(|&n| n > 0), "{:?}", w.log);
    drop(w);
    rig.assert_clean();
}

#[test]
fn active_opens_from_every_core_get_their_replies_on_the_same_core() {
    let mut rig = Rig::new(QUEUES, 0x00ac_717e, 4096);
    let per_core = 16;
    let listeners: Vec<_> = (0..usize::from(QUEUES) * per_core)
        .map(|_| {
            let mut s = socket(1024);
            s.listen(7).unwrap();
            rig.peer.sockets.add(s)
        })
        .collect();
    let mut conns = Vec::new();
    for (q, c) in rig.cores.iter_mut().enumerate() {
        for _ in 0..per_core {
            conns.push((q, c.connect((PEER_IP, 7)).unwrap()));
        }
    }
    rig.run(30);

    let mut lports = Vec::new();
    for &(q, conn) in &conns {
        let c = &rig.cores[q];
        assert_eq!(c.state(conn), Some(ConnState::Established), "core {q}");
        let lport = c.local_port(conn).unwrap();
        // The stack computed a port whose replies RETA steers back to this core's queue.
        assert_eq!(
            usize::from(rig.rss.queue_ipv4_l4(PEER_IP, OUR_IP, 7, lport)),
            q
        );
        lports.push(lport);
    }
    let mut unique = lports.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), lports.len(), "ports unique across cores");

    // The peer answers each connection with the port it sees; the answer must reach the
    // connection, on its own core.
    for &h in &listeners {
        let s = rig.peer.tcp(h);
        assert_eq!(s.state(), tcp::State::Established);
        let port = s.remote_endpoint().unwrap().port;
        assert_eq!(s.send_slice(&port.to_be_bytes()), Ok(2));
    }
    rig.run(10);
    for (&(q, conn), &lport) in conns.iter().zip(&lports) {
        let mut got = [0u8; 2];
        assert_eq!(rig.cores[q].recv(conn, &mut got), Ok(2), "core {q}");
        assert_eq!(u16::from_be_bytes(got), lport);
    }
    for (q, c) in rig.cores.iter().enumerate() {
        assert_eq!(c.counters().connected.get(), per_core as u64, "core {q}");
    }
    let w = rig.wire.borrow();
    assert!(w.log.tcp_sent.iter().all(|&n| n > 0), "{:?}", w.log);
    drop(w);
    rig.assert_clean();
}

/// Each core opens one connection to the peer; both sides then stream `len` bytes to each
/// other at once and check every byte. Returns the retransmissions the cores counted.
fn transfer(rig: &mut Rig, len: u64) -> u64 {
    let listeners: Vec<_> = (0..QUEUES)
        .map(|_| {
            let mut s = socket(64 * 1024);
            s.listen(5001).unwrap();
            rig.peer.sockets.add(s)
        })
        .collect();
    let conns: Vec<_> = rig
        .cores
        .iter_mut()
        .map(|c| c.connect((PEER_IP, 5001)).unwrap())
        .collect();
    // Both directions of a connection are seeded with our (solved) local port.
    let n = conns.len();
    let (mut up_sent, mut up_recv) = (vec![0u64; n], vec![0u64; n]);
    let (mut down_sent, mut down_recv) = (vec![0u64; n], vec![0u64; n]);
    let mut buf = vec![0u8; 16 * 1024];
    let mut steps = 0;
    while up_recv.iter().chain(&down_recv).any(|&r| r < len) {
        steps += 1;
        assert!(
            steps < 200_000,
            "stalled: up {up_recv:?} down {down_recv:?}"
        );
        rig.step();
        for (q, &conn) in conns.iter().enumerate() {
            let c = &mut rig.cores[q];
            let Some(seed) = c.local_port(conn).map(u64::from) else {
                continue;
            };
            while up_sent[q] < len {
                let k = (len - up_sent[q]).min(buf.len() as u64) as usize;
                fill(&mut buf[..k], seed, up_sent[q]);
                match c.send(conn, &buf[..k]) {
                    Ok(0) | Err(_) => break,
                    Ok(m) => up_sent[q] += m as u64,
                }
            }
            while let Ok(m) = c.recv(conn, &mut buf) {
                if m == 0 {
                    break;
                }
                assert_eq!(
                    first_wrong(&buf[..m], !seed, down_recv[q]),
                    None,
                    "core {q}"
                );
                down_recv[q] += m as u64;
            }
        }
        for (k, &h) in listeners.iter().enumerate() {
            let s = rig.peer.tcp(h);
            let Some(ep) = s.remote_endpoint() else {
                continue;
            };
            let seed = u64::from(ep.port);
            while s.can_recv() {
                let m = s.recv_slice(&mut buf).unwrap();
                assert_eq!(first_wrong(&buf[..m], seed, up_recv[k]), None, "peer {k}");
                up_recv[k] += m as u64;
            }
            while s.can_send() && down_sent[k] < len {
                let m = (len - down_sent[k]).min(buf.len() as u64) as usize;
                fill(&mut buf[..m], !seed, down_sent[k]);
                let m = s.send_slice(&buf[..m]).unwrap();
                if m == 0 {
                    break;
                }
                down_sent[k] += m as u64;
            }
        }
    }
    // Each core carried its own connection: at least one full-sized segment per 1500 bytes.
    let w = rig.wire.borrow();
    assert!(
        w.log.tcp_sent.iter().all(|&n| n >= len / 1500),
        "{:?}",
        w.log
    );
    drop(w);
    rig.cores
        .iter()
        .map(|c| c.counters().retransmissions.get())
        .sum()
}

#[test]
fn megabytes_both_ways_on_every_core_arrive_intact() {
    let mut rig = Rig::new(QUEUES, 0x007a_5fe4, 64 * 1024);
    // 1 MiB each way per core: 4 MiB in, 4 MiB out through the driver.
    assert_eq!(
        transfer(&mut rig, 1 << 20),
        0,
        "a clean wire needs no retransmission"
    );
    rig.run(5);
    rig.assert_clean();
}

#[test]
fn loss_and_corruption_cost_retransmissions_not_bytes() {
    let mut rig = Rig::new(QUEUES, 0xbad_c0de, 32 * 1024);
    {
        let mut w = rig.wire.borrow_mut();
        w.loss = 10;
        w.corrupt = 5;
    }
    assert!(
        transfer(&mut rig, 256 << 10) > 0,
        "losses cost retransmissions"
    );
    let w = rig.wire.borrow();
    assert!(w.log.lost > 0 && w.log.corrupted > 0, "{:?}", w.log);
    assert_eq!(w.log.off_core, 0);
    drop(w);
    assert_eq!(rig.model.faults(), 0);
}

#[test]
fn a_small_rx_ring_overruns_and_tcp_recovers() {
    // 32 descriptors per queue against 64 KiB windows: the peer's bursts overrun the ring,
    // the device drops them and counts them in MPC, and the peer's TCP retransmits until
    // every byte is through (the cores' own segments are never lost: `transfer` checks all).
    let mut rig = Rig::with_ring(QUEUES, 0x0005_3a11, 64 * 1024, 32);
    transfer(&mut rig, 128 << 10);
    let missed = rig.dev.stats().rx_missed;
    let w = rig.wire.borrow();
    assert!(missed > 0, "the ring overran");
    assert_eq!(
        w.log.undelivered, missed,
        "every undelivered frame is in MPC"
    );
    assert_eq!(w.log.off_core, 0);
    drop(w);
    assert_eq!(rig.model.faults(), 0);
    for c in &rig.cores {
        let s = c.counters().snapshot();
        assert_eq!((s.drop_no_socket, s.resets_received), (0, 0));
    }
}
