//! SYN cookies end to end against a plain smoltcp peer: on every core (each validates its
//! own), and over IPv6.

extern crate std;

use std::vec::Vec;

use smoltcp::socket::tcp;

use super::*;
use crate::sim::SimNic;
use crate::testkit::{Peer, cores_with};

/// Cookies only (a half-open budget of 0), over IPv6: the handshake, then data both ways
/// right away (the peer's first data is not held up by a closed window).
#[cfg(feature = "ipv6")]
#[test]
fn ipv6_clients_get_cookies_and_are_served() {
    use super::tests_synflood::tick;
    use crate::testkit::{OUR_IP6, PEER_IP6, ip6};
    let rss = RssConfig::new(1).unwrap();
    let nic = SimNic::new(rss.clone(), 4096);
    let mut cores = cores_with(&nic, &rss, true, |c| {
        c.half_open_per_port = 0;
        c.ipv6 = Some(crate::testkit::our_ipv6(None));
    });
    let mut core = cores.pop().unwrap();
    let mut peer = Peer::new(&nic).with_ipv6(PEER_IP6);
    core.listen(80).unwrap();
    let mut handles = Vec::new();
    for port in [41_000u16, 41_001] {
        handles.push(peer.open((ip6(OUR_IP6), 80), port, 4096));
    }
    let mut now = 0;
    let mut conns = Vec::new();
    for _ in 0..30 {
        tick(&mut core, &mut peer, &mut now);
        while let Ok(c) = core.accept(80) {
            conns.push(c);
        }
    }
    let c = core.counters().snapshot();
    assert_eq!(conns.len(), 2, "{c:?}");
    assert_eq!((c.syncookies_sent, c.syncookies_validated), (2, 2));
    assert_eq!(core.half_open(), 0);
    for &h in &handles {
        let s = peer.tcp(h);
        assert_eq!(s.state(), tcp::State::Established);
        s.send_slice(b"GET").unwrap();
    }
    for &c in &conns {
        assert_eq!(core.send(c, b"200"), Ok(3));
    }
    for _ in 0..10 {
        tick(&mut core, &mut peer, &mut now);
    }
    for &c in &conns {
        let mut b = [0u8; 3];
        assert_eq!(core.recv(c, &mut b), Ok(3));
        assert_eq!(&b, b"GET");
    }
    for &h in &handles {
        let mut b = [0u8; 3];
        let s = peer.tcp(h);
        assert_eq!(s.recv_slice(&mut b), Ok(3));
        assert_eq!(&b, b"200");
    }
    assert_eq!(core.counters().retransmissions.get(), 0);
}

/// Cookies only, four cores: each client's ACK comes back to the core that sent its cookie
/// (same 4-tuple, same RSS queue), which alone can validate it.
#[test]
fn every_core_validates_its_own_cookies() {
    let rss = RssConfig::new(4).unwrap();
    let nic = SimNic::new(rss.clone(), 4096);
    let mut cores = cores_with(&nic, &rss, true, |c| c.half_open_per_port = 0);
    let mut peer = Peer::new(&nic);
    for c in &mut cores {
        c.listen(80).unwrap();
    }
    let n = 40;
    let handles: Vec<_> = (0..n).map(|i| peer.connect(20_000 + i * 7, 80)).collect();
    let mut now = 0;
    crate::testkit::run(&mut cores, &mut peer, &mut now, 30);
    let mut accepted = 0;
    for (q, c) in cores.iter_mut().enumerate() {
        let s = c.counters().snapshot();
        assert!(s.syncookies_validated > 0, "core {q}: {s:?}");
        assert_eq!(s.syncookies_validated, s.syncookies_sent, "core {q}");
        assert_eq!(s.syncookies_rejected, 0, "core {q}");
        while let Ok(conn) = c.accept(80) {
            let (_, port) = c.remote(conn).unwrap();
            assert_eq!(
                rss.queue_ipv4_l4(crate::testkit::PEER_IP, crate::testkit::OUR_IP, port, 80)
                    as usize,
                q
            );
            accepted += 1;
        }
    }
    assert_eq!(accepted, n);
    for h in handles {
        assert_eq!(peer.tcp(h).state(), tcp::State::Established);
    }
}
