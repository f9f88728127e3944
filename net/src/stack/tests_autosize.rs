//! Buffers sized to the path under 10 000 connections: every one of them is served, and what
//! they take beyond `tcp_buffer` never passes the per-core budget.

extern crate std;

use std::vec::Vec;

use super::*;
use crate::sim::SimNic;
use crate::testkit::{OUR_IP, Peer, cores_with, ip4};

const SMALL: usize = 1024;
const MAX: usize = 256 * 1024;
/// Room for this many connections grown to `MAX` (one octet short of one more).
const FIT: usize = 3;
const BUDGET: usize = FIT * 2 * (MAX - SMALL) + 2 * (MAX - SMALL) - 1;
const CONNECTIONS: u16 = 10_000;
/// Handshakes in flight at once: within the backlog, the half-open limit and the frames a
/// core takes per poll (`rx_budget`), so that every SYN is answered at once and every
/// handshake's round trip is the peer's 50 ms.
const BATCH: u16 = 50;

/// 10 000 passive opens, each with a 50 ms handshake round trip (so each asks for `MAX`):
/// the first `FIT` grow, the rest keep `tcp_buffer` (counted), every one is accepted, and
/// closing them gives the budget back.
#[test]
fn ten_thousand_long_path_handshakes_stay_within_the_budget() {
    let rss = RssConfig::new(1).unwrap();
    let nic = SimNic::new(rss.clone(), 4096);
    let mut cores = cores_with(&nic, &rss, false, |c| {
        c.tcp_buffer = SMALL;
        c.tcp_buffer_auto_max = MAX;
        c.port_buffer_budget = BUDGET;
        c.backlog = usize::from(BATCH);
    });
    cores[0].listen(80).unwrap();
    let mut peer = Peer::new(&nic);
    let mut now = 0u64;
    let mut accepted = Vec::new();
    let mut room = 0usize;
    for batch in 0..CONNECTIONS / BATCH {
        for i in 0..BATCH {
            peer.open((ip4(OUR_IP), 80), 20_000 + batch * BATCH + i, SMALL);
        }
        // SYNs out, SYN-ACKs back at once; the peer answers 50 ms later.
        now += 1000;
        peer.poll(now);
        cores[0].poll(now);
        if batch == 0 {
            // The first round was the peer's ARP request: now its SYNs.
            now += 1000;
            peer.poll(now);
            cores[0].poll(now);
        }
        now += 50_000;
        peer.poll(now);
        for _ in 0..3 {
            now += 1000;
            cores[0].poll(now);
            peer.poll(now);
        }
        while let Ok(h) = cores[0].accept(80) {
            room += cores[0].send_room(h);
            accepted.push(h);
        }
    }
    let n = usize::from(CONNECTIONS);
    assert_eq!(accepted.len(), n, "every connection is served");
    let s = cores[0].counters().snapshot();
    assert_eq!(s.path_sized, FIT as u64);
    assert_eq!(s.port_buffer_fallback, (n - FIT) as u64);
    assert!(cores[0].port_buffer_used <= BUDGET);
    // Send buffers in all: `tcp_buffer` each, plus the grown ones' share of the budget.
    assert_eq!(room, n * SMALL + FIT * (MAX - SMALL));
    for h in accepted {
        cores[0].abort(h).unwrap();
    }
    for _ in 0..10 {
        now += 1000;
        cores[0].poll(now);
        peer.poll(now);
    }
    assert_eq!(cores[0].port_buffer_used, 0);
}
