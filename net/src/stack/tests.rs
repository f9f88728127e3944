//! Several per-core stacks and a peer host, wired through the simulated RSS NIC (the set-up
//! is [`crate::testkit`]'s).

extern crate std;

use std::vec::Vec;

use super::*;
use crate::sim::SimNic;
use crate::testkit::{OUR_IP, PEER_IP, Peer, cores, run};

#[test]
fn passive_opens_land_on_the_core_the_hash_names() {
    let rss = RssConfig::new(4).unwrap();
    let nic = SimNic::new(rss.clone(), 4096);
    let mut cores = cores(&nic, &rss, true);
    let mut peer = Peer::new(&nic);
    for c in &mut cores {
        c.listen(80).unwrap();
    }
    let n = 48;
    let mut handles = Vec::new();
    for i in 0..n {
        handles.push(peer.connect(20_000 + i * 7, 80));
    }
    let mut now = 0;
    run(&mut cores, &mut peer, &mut now, 50);
    let mut seen = std::collections::HashSet::new();
    for (q, c) in cores.iter_mut().enumerate() {
        assert!(c.counters().accepted.get() > 0, "core {q} got no SYN");
        while let Ok(conn) = c.accept(80) {
            let (addr, port) = c.remote(conn).unwrap();
            assert_eq!(addr, PEER_IP);
            assert_eq!(rss.queue_ipv4_l4(PEER_IP, OUR_IP, port, 80) as usize, q);
            assert!(seen.insert(port));
            assert_eq!(c.send(conn, &port.to_be_bytes()), Ok(2));
        }
    }
    assert_eq!(seen.len(), n as usize);
    run(&mut cores, &mut peer, &mut now, 20);
    for h in handles {
        let s = peer.tcp(h);
        let mut b = [0u8; 2];
        assert_eq!(s.recv_slice(&mut b), Ok(2));
        assert_eq!(u16::from_be_bytes(b), s.local_endpoint().unwrap().port);
    }
    let accepted: u64 = cores.iter().map(|c| c.counters().accepted.get()).sum();
    assert_eq!(accepted, n as u64);
    assert!(cores.iter().all(|c| c.counters().drop_no_socket.get() == 0));
    assert!(
        cores
            .iter()
            .all(|c| c.counters().retransmissions.get() == 0)
    );
}

#[test]
fn active_opens_from_every_core_get_their_replies_home() {
    let rss = RssConfig::new(4).unwrap();
    let nic = SimNic::new(rss.clone(), 4096);
    let mut cores = cores(&nic, &rss, true);
    let mut peer = Peer::new(&nic);
    let per_core = 12;
    for _ in 0..per_core * cores.len() {
        peer.listen(7, 4096);
    }
    let mut conns = Vec::new();
    for (q, c) in cores.iter_mut().enumerate() {
        for _ in 0..per_core {
            let conn = c.connect((PEER_IP, 7)).unwrap();
            let port = c.local_port(conn).unwrap();
            assert_eq!(rss.queue_ipv4_l4(PEER_IP, OUR_IP, 7, port) as usize, q);
            conns.push((q, conn));
        }
    }
    let mut now = 0;
    // Neighbor resolution from every core rides on core 0 forwarding the ARP reply.
    run(&mut cores, &mut peer, &mut now, 50);
    for &(q, conn) in &conns {
        assert_eq!(
            cores[q].state(conn),
            Some(ConnState::Established),
            "core {q}"
        );
    }
    assert!(cores.iter().all(|c| c.counters().drop_no_socket.get() == 0));
    assert!(
        cores[1..]
            .iter()
            .all(|c| c.counters().frames_from_peers.get() > 0)
    );
}

#[test]
fn without_the_arp_mesh_other_cores_cannot_resolve() {
    let rss = RssConfig::new(2).unwrap();
    let nic = SimNic::new(rss.clone(), 4096);
    let mut cores = cores(&nic, &rss, false);
    let mut peer = Peer::new(&nic);
    peer.listen(7, 4096);
    let conn = cores[1].connect((PEER_IP, 7)).unwrap();
    let mut now = 0;
    run(&mut cores, &mut peer, &mut now, 50);
    assert_eq!(cores[1].state(conn), Some(ConnState::Connecting));
}
