//! The minimum retransmission timeout (`tcp_rto_min_ms`) on the simulated wire.

extern crate std;

use std::cell::Cell;
use std::rc::Rc;

use super::tests_recovery::tcp_seg;
use super::*;
use crate::sim::SimNic;
use crate::testkit::{OUR_IP, Peer, cores_with, ip4, run};

/// Milliseconds (virtual) for one 100-byte write to reach the peer when the segment carrying
/// it and its first retransmission are both lost, after a warm-up exchange that gave the
/// sender RTT samples.
fn lone_segment_lost_twice(rto_min_ms: u64) -> u64 {
    let rss = RssConfig::new(1).unwrap();
    let nic = SimNic::new(rss.clone(), 4096);
    let mut cores = cores_with(&nic, &rss, false, |c| c.tcp_rto_min_ms = rto_min_ms);
    let mut peer = Peer::new(&nic);
    cores[0].listen(5001).unwrap();
    let ph = peer.open((ip4(OUR_IP), 5001), 41_000, 64 * 1024);
    let mut now = 0;
    run(&mut cores, &mut peer, &mut now, 10);
    let h = cores[0].accept(5001).unwrap();
    let mut got = 0;
    let mut receive = |peer: &mut Peer| {
        let ps = peer.tcp(ph);
        while let Ok(n) = ps.recv(|b| (b.len(), b.len())) {
            if n == 0 {
                break;
            }
            got += n;
        }
        got
    };
    // Warm-up: 20 round trips of one segment each, for RTT samples.
    for i in 1..=20 {
        cores[0].send(h, &[7; 100]).unwrap();
        while receive(&mut peer) < i * 100 {
            run(&mut cores, &mut peer, &mut now, 1);
        }
        run(&mut cores, &mut peer, &mut now, 20);
    }
    let drops = Rc::new(Cell::new(0));
    let d = drops.clone();
    nic.set_tx_filter(std::boxed::Box::new(move |frame| {
        let data = tcp_seg(frame).is_some_and(|(_, n, _)| n > 0);
        if data && d.get() < 2 {
            d.set(d.get() + 1);
            return true;
        }
        false
    }));
    cores[0].send(h, &[8; 100]).unwrap();
    let start = now;
    while receive(&mut peer) < 2100 {
        assert!(now - start < 60_000_000, "never delivered");
        run(&mut cores, &mut peer, &mut now, 1);
    }
    assert_eq!(drops.get(), 2);
    (now - start) / 1000
}

/// With RFC 6298's 1 s minimum, the second loss waits for an RTO of at least a second;
/// with 200 ms (the default, as Linux) the RTO and its doubling take well under one.
#[test]
fn the_minimum_rto_bounds_a_twice_lost_segment() {
    let slow = lone_segment_lost_twice(1000);
    let fast = lone_segment_lost_twice(200);
    assert!(slow > 1000, "1 s minimum: delivered after {slow} ms");
    assert!(fast < 1000, "200 ms minimum: delivered after {fast} ms");
}
