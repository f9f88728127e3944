//! A long path (50 ms round trip, simulated): a port with its own large buffers carries a
//! scaled window's worth per round trip; a port with `tcp_buffer` stays under its buffer.

extern crate std;

use std::vec::Vec;

use super::*;
use crate::sim::SimNic;
use crate::testkit::{Delay, OUR_IP, PEER_IP, PEER_MAC, Peer, TimedDevice, cores_with, ip4};

/// One way, microseconds.
const DELAY_US: u64 = 25_000;

/// Our side sends to a peer 50 ms away (peer buffers of 1 MiB) on `port` (port 7 has
/// 256 KiB buffers within a budget of `budget` bytes), for 3 virtual seconds; the most
/// bytes the peer received within any one round trip.
fn most_per_round_trip(port: u16, budget: usize) -> usize {
    stream(port, |c| c.port_buffer_budget = budget).0
}

/// [`most_per_round_trip`] with `tweak` applied to the configuration; also the size of our
/// send buffer when the connection was accepted.
fn stream(port: u16, tweak: impl Fn(&mut StackConfig)) -> (usize, usize) {
    let rss = RssConfig::new(1).unwrap();
    let nic = SimNic::new(rss.clone(), 4096);
    let mut cores = cores_with(&nic, &rss, false, |c| {
        c.tcp_buffer = 16 * 1024;
        c.port_buffers[0] = (7, 256 * 1024);
        tweak(c);
    });
    cores[0].listen(port).unwrap();
    let dev = TimedDevice::new(&nic, Delay(DELAY_US), DELAY_US);
    let mut peer = Peer::on(dev, PEER_MAC, PEER_IP, 0xfeed);
    let ph = peer.open((ip4(OUR_IP), port), 41_000, 1 << 20);
    let data = std::vec![5u8; 64 * 1024];
    let mut conn = None;
    let mut accepted_size = 0;
    // Bytes the peer holds at the end of each 1 ms tick.
    let mut got = Vec::new();
    let mut total = 0;
    for tick in 1..=3000u64 {
        let now = tick * 1000;
        peer.poll(now);
        cores[0].poll(now);
        if conn.is_none() {
            conn = cores[0].accept(port).ok();
            if let Some(h) = conn {
                accepted_size = cores[0].send_room(h);
            }
        }
        if let Some(h) = conn {
            let _ = cores[0].send(h, &data);
        }
        let ps = peer.tcp(ph);
        while let Ok(n) = ps.recv(|b| (b.len(), b.len())) {
            if n == 0 {
                break;
            }
            total += n;
        }
        got.push(total);
    }
    assert!(conn.is_some(), "connected");
    let most = got.windows(50).map(|w| w[49] - w[0]).max().unwrap_or(0);
    (most, accepted_size)
}

#[test]
fn a_port_buffer_fills_a_long_path() {
    let big = most_per_round_trip(7, 1 << 20);
    let small = most_per_round_trip(80, 1 << 20);
    // `tcp_buffer` bounds what is in flight, so a round trip carries at most that.
    assert!(small <= 16 * 1024 + 1460, "{small}");
    // Scaled: well past the 64 KiB an unscaled window allows.
    assert!(big > 128 * 1024, "{big}");
}

#[test]
fn past_the_budget_a_port_keeps_tcp_buffer_on_a_long_path() {
    let spent = most_per_round_trip(7, 0);
    assert!(spent <= 16 * 1024 + 1460, "{spent}");
}

/// Sized to the path: a port without its own size grows to the handshake's 50 ms x
/// 12.5 MB/s (capped at 256 KiB) and carries it per round trip; with the budget spent it
/// keeps `tcp_buffer` (counted).
#[test]
fn auto_sized_buffers_grow_on_a_long_path_within_the_budget() {
    let auto = |budget: usize| {
        move |c: &mut StackConfig| {
            c.tcp_buffer_auto_max = 256 * 1024;
            c.port_buffer_budget = budget;
        }
    };
    let (most, size) = stream(80, auto(1 << 20));
    assert_eq!(size, 256 * 1024);
    assert!(most > 128 * 1024, "{most}");
    let (most, size) = stream(80, auto(0));
    assert_eq!(size, 16 * 1024);
    assert!(most <= 16 * 1024 + 1460, "{most}");
}
