//! A shut scaled receive window: the peer's ACKs must count even when its segments start
//! past our window's rounded-down right edge.

extern crate std;

use smoltcp::socket::tcp;

use super::*;
use crate::sim::SimNic;
use crate::testkit::{Peer, cores_with, run};

/// Our side with `buf`-sized buffers and an application that does not read; the peer
/// fills our window in two steps, the last one of four segments (three full, one short)
/// of which we take three per poll. Then our side sends `reply` bytes, which the peer
/// reads. Returns how many of them are still unacknowledged 5 virtual seconds later.
fn reply_into_a_shut_window(buf: usize, reply: usize) -> usize {
    let rss = RssConfig::new(1).unwrap();
    let nic = SimNic::new(rss.clone(), 4096);
    let mut cores = cores_with(&nic, &rss, false, |c| {
        c.tcp_buffer = buf;
        c.rx_budget = 3;
    });
    let mut peer = Peer::new(&nic);
    cores[0].listen(7).unwrap();
    let mut s = <Peer>::socket(buf);
    // A sender that pushes what it has (no Nagle), as a bulk sender's full buffer does.
    s.set_nagle_enabled(false);
    let [a, b, c, d] = crate::testkit::OUR_IP;
    s.connect(
        peer.iface.context(),
        (smoltcp::wire::Ipv4Address::new(a, b, c, d), 7),
        41_000,
    )
    .unwrap();
    let ph = peer.sockets.add(s);
    let mut now = 0;
    run(&mut cores, &mut peer, &mut now, 10);
    let h = cores[0].accept(7).unwrap();
    let data = std::vec![7u8; buf];
    // The last step: 3 * 1460 + 540 octets, a multiple of 8, as is the first step.
    let last = 3 * 1460 + 540;
    for step in [buf - last, last] {
        let mut queued = 0;
        for _ in 0..1000 {
            let ps = peer.sockets.get_mut::<tcp::Socket>(ph);
            queued += ps.send_slice(&data[queued..step]).unwrap();
            run(&mut cores, &mut peer, &mut now, 1);
        }
        assert_eq!(queued, step);
    }
    assert_eq!(cores[0].send(h, &data[..reply]), Ok(reply));
    let mut got = 0;
    for _ in 0..5000 {
        run(&mut cores, &mut peer, &mut now, 1);
        let ps = peer.sockets.get_mut::<tcp::Socket>(ph);
        while let Ok(n) = ps.recv(|b| (b.len(), b.len())) {
            if n == 0 {
                break;
            }
            got += n;
        }
    }
    assert_eq!(got, reply, "the peer reads our reply");
    buf - cores[0].send_room(h)
}

/// 256 KiB buffers scale the window by 8: each window we advertise is rounded down to a
/// multiple of 8 octets, so its right edge can retreat by up to 7 octets behind data the
/// peer already sent (RFC 7323 section 2.4; 1460-octet segments are not multiples of 8).
/// Once the window is shut, every segment of the peer starts past it; their ACKs must still
/// count. They were dropped as out of window: our reply stayed unacknowledged for good, and
/// an echo (which cannot send, so does not read, so keeps the window shut) deadlocked.
#[test]
fn acks_past_a_shut_scaled_window_still_count() {
    assert_eq!(reply_into_a_shut_window(256 * 1024, 10_000), 0);
}

/// Without window scaling (buffers up to 64 KiB) the edge never retreats.
#[test]
fn acks_into_a_shut_unscaled_window_count() {
    assert_eq!(reply_into_a_shut_window(16 * 1024, 10_000), 0);
}
