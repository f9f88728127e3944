//! A burst of connections on a congested link: handshakes whose last ACK (and first request)
//! come late must still complete, whether the SYN was answered from the half-open set or
//! with a cookie, instead of being reset.

extern crate std;

use std::vec::Vec;

use smoltcp::socket::tcp;

use super::tests_synflood::tick;
use super::*;
use crate::sim::{Faults, SimNic};
use crate::testkit::{Peer, cores_with};

const BLACKOUT_US: u64 = 5_000_000;

/// The client's handshake ACK and its request are lost for `BLACKOUT_US` (a host queue that
/// drops frames while the guest is busy), then get through: the connection is accepted
/// and carries the request both ways; nothing is reset.
fn late_ack_completes(cookies_only: bool) {
    let rss = RssConfig::new(1).unwrap();
    let nic = SimNic::new(rss.clone(), 4096);
    let mut cores = cores_with(&nic, &rss, true, |c| {
        if cookies_only {
            c.half_open_per_port = 0;
        }
    });
    let mut core = cores.pop().unwrap();
    let mut peer = Peer::new(&nic);
    core.listen(80).unwrap();
    let h = peer.connect(40_000, 80);
    let mut now = 0;
    // Until our SYN-ACK is on the wire (not yet read by the peer).
    let mut sent = false;
    for _ in 0..10 {
        tick(&mut core, &mut peer, &mut now);
        let c = core.counters().snapshot();
        if core.half_open() == 1 || c.syncookies_sent == 1 {
            sent = true;
            break;
        }
    }
    assert!(sent, "no SYN-ACK");
    // Everything on the wire is lost from now on: the peer gets the SYN-ACK already sent,
    // but its ACK, its request and their retransmissions are not seen for 5 s.
    let blackout = |loss| Faults {
        loss,
        corrupt: 0,
        reorder: 0,
        seed: 7,
    };
    nic.set_faults(blackout(1000));
    let end = now + BLACKOUT_US;
    let mut asked = false;
    while now < end {
        tick(&mut core, &mut peer, &mut now);
        if !asked && peer.tcp(h).state() == tcp::State::Established {
            // The request follows the ACK at once, as wrk's does (and is lost too).
            peer.tcp(h).send_slice(b"GET").unwrap();
            asked = true;
        }
    }
    assert!(asked);
    assert_eq!(peer.tcp(h).state(), tcp::State::Established);
    nic.set_faults(blackout(0));
    let mut conns = Vec::new();
    for _ in 0..20_000 {
        tick(&mut core, &mut peer, &mut now);
        while let Ok(c) = core.accept(80) {
            conns.push(c);
        }
        if !conns.is_empty() {
            break;
        }
    }
    let c = core.counters().snapshot();
    assert_eq!(conns.len(), 1, "not accepted: {c:?}");
    assert_eq!(
        (c.refused, c.drop_no_socket, c.syncookies_rejected),
        (0, 0, 0)
    );
    let mut b = [0u8; 3];
    // The request is the peer's to send again (its RTO backed off during the loss).
    for _ in 0..20_000 {
        if core.recv(conns[0], &mut b) == Ok(3) {
            break;
        }
        tick(&mut core, &mut peer, &mut now);
    }
    assert_eq!(&b, b"GET");
    assert_eq!(core.send(conns[0], b"200"), Ok(3));
    for _ in 0..100 {
        tick(&mut core, &mut peer, &mut now);
    }
    let s = peer.tcp(h);
    assert_eq!(s.state(), tcp::State::Established);
    assert_eq!(s.recv_slice(&mut b), Ok(3));
    assert_eq!(&b, b"200");
}

#[test]
fn a_half_open_connection_outlives_a_lost_ack() {
    late_ack_completes(false);
}

#[test]
fn a_cookie_connection_outlives_a_lost_ack() {
    late_ack_completes(true);
}
