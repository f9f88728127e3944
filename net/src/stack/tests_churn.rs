//! Bounded work and bounded memory: a frame flood respects the budget without starving
//! transmit, and connection churn returns every slot and port.

extern crate std;

use std::vec::Vec;

use smoltcp::iface::SocketHandle;

use super::*;
use crate::sim::SimNic;
use crate::testkit::{PEER_IP, Peer, cores_with, run};

#[test]
fn a_flood_is_cut_at_the_budget_and_transmit_still_runs() {
    let rss = RssConfig::new(1).unwrap();
    let nic = SimNic::new(rss.clone(), 1 << 16);
    let mut cores = cores_with(&nic, &rss, true, |c| c.rx_budget = 32);
    let mut peer = Peer::new(&nic);
    peer.listen(9, 4096);
    let conn = cores[0].connect((PEER_IP, 9)).unwrap();
    let mut now = 0;
    run(&mut cores, &mut peer, &mut now, 10);
    assert_eq!(cores[0].state(conn), Some(ConnState::Established));
    for _ in 0..1000 {
        nic.deliver(std::vec![0u8; 60]); // not IPv4, not ARP
    }
    assert_eq!(cores[0].send(conn, b"through the flood"), Ok(17));
    now += 1000;
    let report = cores[0].poll(now);
    assert_eq!(report.rx_frames, 32);
    assert_eq!(cores[0].counters().budget_exhausted.get(), 1);
    assert_eq!(report.conns_polled, 1, "the connection still transmitted");
    let sent: Vec<Vec<u8>> = core::iter::from_fn(|| nic.take_sent()).collect();
    assert!(sent.iter().any(|f| f.ends_with(b"through the flood")));
    // The rest waits: at most one more burst sits harvested in the device.
    assert!(nic.backlog(0) >= 1000 - 32 - crate::device::BURST);
}

#[test]
fn churn_returns_every_slot_and_port() {
    let rss = RssConfig::new(2).unwrap();
    let nic = SimNic::new(rss.clone(), 1 << 16);
    let mut cores = cores_with(&nic, &rss, true, |c| c.time_wait_us = 0);
    let mut peer = Peer::new(&nic);
    let listeners: Vec<SocketHandle> = (0..8).map(|_| peer.listen(9, 4096)).collect();
    let mut now = 0;
    for round in 0..25 {
        let conns: Vec<_> = (0..8)
            .map(|i| {
                let q = i % 2;
                (q, cores[q].connect((PEER_IP, 9)).unwrap())
            })
            .collect();
        run(&mut cores, &mut peer, &mut now, 10);
        for &(q, c) in &conns {
            assert_eq!(cores[q].send(c, b"x"), Ok(1), "round {round}");
        }
        run(&mut cores, &mut peer, &mut now, 10);
        // The peer reads, closes first (so its side holds TIME-WAIT) and listens again.
        for &h in &listeners {
            let s = peer.tcp(h);
            let mut b = [0u8; 4];
            let _ = s.recv_slice(&mut b);
            s.close();
        }
        run(&mut cores, &mut peer, &mut now, 10);
        for &(q, c) in &conns {
            cores[q].close(c).unwrap();
        }
        run(&mut cores, &mut peer, &mut now, 10);
        for &h in &listeners {
            let s = peer.tcp(h);
            s.abort();
            s.listen(9).unwrap();
        }
        run(&mut cores, &mut peer, &mut now, 2);
    }
    for c in &cores {
        assert_eq!(c.connections(), 0);
        assert_eq!(c.ports_in_use(), 0);
        assert!(
            c.slot_capacity() <= 8,
            "slots grew to {}",
            c.slot_capacity()
        );
    }
}
