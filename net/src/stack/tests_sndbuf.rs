//! Send buffers that grow while they bound a bulk sender (sndbuf.rs), on a fast short path
//! (1 ms round trip, simulated): they grow and carry more per round trip than with growth
//! off; a peer whose window is small or zero grows nothing; the budget bounds the total.

extern crate std;

use std::vec::Vec;

use super::*;
use smoltcp::socket::tcp::Socket as TcpSocket;

use crate::sim::SimNic;
use crate::testkit::{Delay, OUR_IP, PEER_IP, PEER_MAC, Peer, TimedDevice, cores_with, ip4};

const K: usize = 1024;
/// One way, microseconds: a 1 ms round trip sizes buffers at the `tcp_buffer` floor.
const DELAY_US: u64 = 500;
const TICK_US: u64 = 250;
/// Ticks per round trip.
const RTT_TICKS: usize = (2 * DELAY_US / TICK_US) as usize;

/// What a run saw.
struct Run {
    /// The most bytes one connection's peer received within one round trip.
    most: usize,
    /// Send buffer sizes at the end, per connection.
    sizes: Vec<usize>,
    grown: u64,
    fallback: u64,
    used: usize,
    used_after_close: usize,
}

/// `conns` connections from a peer 1 ms away (receive buffers of `peer_buf`) to port 80,
/// our side sending all the time for `ticks` ticks; the peer reads up to `read` bytes per
/// connection per tick. Growth up to `auto_max` (0: off) within `budget`.
fn run(conns: u16, peer_buf: usize, read: usize, auto_max: usize, budget: usize) -> Run {
    let rss = RssConfig::new(1).unwrap();
    let nic = SimNic::new(rss.clone(), 4096);
    let mut cores = cores_with(&nic, &rss, false, |c| {
        c.tcp_buffer = 16 * K;
        c.tcp_buffer_auto_max = auto_max;
        c.port_buffer_budget = budget;
    });
    cores[0].listen(80).unwrap();
    let dev = TimedDevice::new(&nic, Delay(DELAY_US), DELAY_US);
    let mut peer = Peer::on(dev, PEER_MAC, PEER_IP, 0xfeed);
    let ph: Vec<_> = (0..conns)
        .map(|i| peer.open((ip4(OUR_IP), 80), 41_000 + i, peer_buf))
        .collect();
    let data = std::vec![5u8; 64 * K];
    let mut ours = Vec::new();
    let mut got = std::vec![Vec::new(); ph.len()];
    let mut total = std::vec![0usize; ph.len()];
    for tick in 1..=4000u64 {
        let now = tick * TICK_US;
        peer.poll(now);
        cores[0].poll(now);
        while let Ok(h) = cores[0].accept(80) {
            ours.push(h);
        }
        for &h in &ours {
            let _ = cores[0].send(h, &data);
        }
        for (j, &h) in ph.iter().enumerate() {
            let ps = peer.tcp(h);
            let mut left = read;
            while left > 0 {
                match ps.recv(|b| {
                    let n = b.len().min(left);
                    (n, n)
                }) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        left -= n;
                        total[j] += n;
                    }
                }
            }
            got[j].push(total[j]);
        }
    }
    assert_eq!(ours.len(), ph.len(), "all connected");
    let most = got
        .iter()
        .flat_map(|g| g.windows(RTT_TICKS + 1).map(|w| w[RTT_TICKS] - w[0]))
        .max()
        .unwrap_or(0);
    let sizes = ours
        .iter()
        .map(|&h| {
            cores[0].slots[h.index as usize]
                .conn
                .as_ref()
                .map_or(0, |c| c.set.get::<TcpSocket>(c.handle).send_capacity())
        })
        .collect();
    let s = cores[0].counters().snapshot();
    let used = cores[0].port_buffer_used;
    for h in ours {
        cores[0].abort(h).unwrap();
    }
    for t in 1..=10 {
        cores[0].poll(4000 * TICK_US + t * 1000);
    }
    Run {
        most,
        sizes,
        grown: s.sndbuf_grown,
        fallback: s.sndbuf_fallback,
        used,
        used_after_close: cores[0].port_buffer_used,
    }
}

#[test]
fn a_bulk_sender_grows_its_send_buffer_on_a_fast_path() {
    let on = run(1, 1 << 20, usize::MAX, 256 * K, 1 << 20);
    let off = run(1, 1 << 20, usize::MAX, 0, 1 << 20);
    // Off: the 16 KiB buffer is the cap per round trip.
    assert_eq!(off.grown, 0);
    assert_eq!(off.sizes, [16 * K]);
    assert!(off.most <= 16 * K + 1460, "{}", off.most);
    // On: doubled up to the maximum, once per round trip, and it carries more.
    // (Past 128 KiB the congestion window, not the buffer, bounds this path's flight.)
    let size = on.sizes[0];
    assert!((128 * K..=256 * K).contains(&size), "{size}");
    assert_eq!((16 * K) << on.grown, size);
    assert_eq!(on.used, size - 16 * K);
    assert!(on.most > 2 * off.most, "{} vs {}", on.most, off.most);
    assert_eq!(on.used_after_close, 0);
}

#[test]
fn a_small_or_zero_window_grows_nothing() {
    // Small: a peer that reads at once but offers 4 KiB.
    let small = run(1, 4 * K, usize::MAX, 256 * K, 1 << 20);
    // Slow: 8 KiB of window, 256 bytes read per tick.
    let slow = run(1, 8 * K, 256, 256 * K, 1 << 20);
    // Stalled: the peer never reads; its window closes.
    let stalled = run(1, 8 * K, 0, 256 * K, 1 << 20);
    for r in [small, slow, stalled] {
        assert_eq!((r.grown, r.fallback, r.used), (0, 0, 0));
        assert_eq!(r.sizes, [16 * K]);
    }
}

#[test]
fn the_budget_bounds_growth_across_connections() {
    // Room for two connections grown to 256 KiB (and a little more); eight try.
    let budget = 2 * (256 * K - 16 * K) + 8 * K;
    let r = run(8, 1 << 20, usize::MAX, 256 * K, budget);
    assert!(r.used <= budget, "{}", r.used);
    assert!(r.fallback > 0);
    let extra: usize = r.sizes.iter().map(|s| s - 16 * K).sum();
    assert_eq!(extra, r.used);
    assert!(r.sizes.iter().any(|&s| s > 16 * K));
    assert_eq!(r.used_after_close, 0);
}
