//! Pacing (`StackConfig::tcp_pacing`, smoltcp patch 11) on a simulated long path whose
//! bottleneck has a bounded queue: a 512 KiB window sent in bursts overflows it, paced it
//! does not.

extern crate std;

use std::collections::VecDeque;
use std::vec::Vec;

use smoltcp::socket::tcp;

use super::*;
use crate::sim::SimNic;
use crate::testkit::{OUR_IP, PEER_IP, PEER_MAC, Path, Peer, TimedDevice, cores_with, ip4};

/// One way, microseconds.
const DELAY_US: u64 = 25_000;
/// The bottleneck towards the peer: 10 MB/s (a frame of 1 514 octets takes 151 µs).
const RATE: u64 = 10_000_000;
/// Frames the bottleneck's queue holds; one more is dropped.
const QUEUE: usize = 64;

/// The path towards the peer: a queue of `QUEUE` frames drained at `RATE`, then `DELAY_US`.
pub(super) struct Bottleneck {
    /// Frames the queue holds.
    queue: usize,
    /// When each queued frame leaves the queue.
    leaving: VecDeque<u64>,
    dropped: usize,
    /// When each frame carrying data (over 100 octets) left our side.
    data_sent: Vec<u64>,
}

impl Path for Bottleneck {
    fn carry(&mut self, now: u64, frame: &[u8]) -> Option<u64> {
        if frame.len() > 100 {
            self.data_sent.push(now);
        }
        while self.leaving.front().is_some_and(|&t| t <= now) {
            self.leaving.pop_front();
        }
        if self.leaving.len() >= self.queue {
            self.dropped += 1;
            return None;
        }
        let start = self.leaving.back().map_or(now, |&t| t.max(now));
        let done = start + frame.len() as u64 * 1_000_000 / RATE;
        self.leaving.push_back(done);
        Some(done + DELAY_US)
    }
}

/// What one run showed: bytes the peer received, frames the bottleneck dropped, and our
/// side's loss counters (recoveries, RTOs) once the connection was freed.
pub(super) struct Run {
    pub(super) got: usize,
    pub(super) dropped: usize,
    pub(super) recoveries: u64,
    pub(super) rtos: u64,
    /// Data frames sent in the first round trip after the handshake (the initial window).
    pub(super) first_flight: usize,
    /// Rounds whose round trip rose past HyStart++'s threshold, and slow starts it ended.
    pub(super) hystart_rises: u64,
    pub(super) hystart_exits: u64,
}

/// Our side streams to a peer 50 ms away through the bottleneck for 2 virtual seconds, with
/// 512 KiB buffers (path-sized) and `pacing`. Our core is polled until it has nothing left
/// to do at every millisecond, as the guest's busy loop does, so a batch of ACKs read at
/// once releases everything the window allows.
fn through_bottleneck(pacing: bool) -> Run {
    through_bottleneck_with(QUEUE, |c| {
        c.tcp_buffer_auto_max = 512 * 1024;
        c.tcp_pacing = pacing;
    })
}

/// [`through_bottleneck`] with a queue of `queue` frames and the stack's configuration
/// changed by `tweak` (after 16 KiB buffers and a 4 MiB budget for path-sized ones).
pub(super) fn through_bottleneck_with(queue: usize, tweak: impl Fn(&mut StackConfig)) -> Run {
    let rss = RssConfig::new(1).unwrap();
    let nic = SimNic::new(rss.clone(), 4096);
    let mut cores = cores_with(&nic, &rss, false, |c| {
        c.tcp_buffer = 16 * 1024;
        c.port_buffer_budget = 4 << 20;
        tweak(c);
    });
    cores[0].listen(80).unwrap();
    let bottleneck = Bottleneck {
        queue,
        leaving: VecDeque::new(),
        dropped: 0,
        data_sent: Vec::new(),
    };
    let dev = TimedDevice::new(&nic, bottleneck, DELAY_US);
    let mut peer = Peer::on(dev, PEER_MAC, PEER_IP, 0xfeed);
    let ph = peer.open((ip4(OUR_IP), 80), 41_000, 2 << 20);
    let data = std::vec![5u8; 64 * 1024];
    let mut conn = None;
    let mut accepted_at = 0;
    let mut got = 0;
    for tick in 1..=2000u64 {
        let now = tick * 1000;
        peer.poll(now);
        for _ in 0..64 {
            let r = cores[0].poll(now);
            if r.rx_frames == 0 && r.conns_polled == 0 {
                break;
            }
        }
        if conn.is_none() {
            conn = cores[0].accept(80).ok();
            accepted_at = now;
        }
        if let Some(h) = conn {
            while cores[0].send(h, &data).is_ok_and(|n| n > 0) {}
        }
        let ps = peer.tcp(ph);
        while let Ok(n) = ps.recv(|b| (b.len(), b.len())) {
            if n == 0 {
                break;
            }
            got += n;
        }
    }
    let h = conn.expect("connected");
    cores[0].abort(h).unwrap();
    cores[0].poll(2_001_000);
    assert_eq!(cores[0].connections(), 0);
    let c = cores[0].counters().snapshot();
    // The first ACK of data comes back a round trip (50 ms) after the first segment left.
    let path = &peer.dev.path;
    let first_flight = path
        .data_sent
        .iter()
        .filter(|&&t| t < accepted_at + 2 * DELAY_US - 5_000)
        .count();
    Run {
        got,
        dropped: path.dropped,
        recoveries: c.tcp_recoveries,
        rtos: c.tcp_rtos,
        first_flight,
        hystart_rises: c.tcp_hystart_rises,
        hystart_exits: c.tcp_hystart_exits,
    }
}

/// Unpaced, slow start's doubling leaves in bursts of up to a window: the bottleneck's
/// queue overflows early and Reno halves, then grows by a segment per round trip. Paced,
/// the window reaches the bottleneck spread over the round trip: slow start runs until its
/// rate passes the bottleneck's (a loss or two, once), and over twice as much arrives in
/// the same time (measured with the initial window of ten segments: 2.9 MB unpaced, 33
/// frames dropped; 9.2 MB paced, 4 dropped).
#[test]
fn a_paced_window_does_not_overflow_a_bounded_queue() {
    let bursty = through_bottleneck(false);
    let paced = through_bottleneck(true);
    std::println!(
        "unpaced: {} bytes, {} dropped, {} recoveries, {} RTOs; paced: {} bytes, {} dropped, {} recoveries, {} RTOs",
        bursty.got,
        bursty.dropped,
        bursty.recoveries,
        bursty.rtos,
        paced.got,
        paced.dropped,
        paced.recoveries,
        paced.rtos
    );
    assert!(bursty.dropped > 0, "the bursts overflow the queue");
    assert!(
        paced.dropped * 5 <= bursty.dropped,
        "paced, the queue holds"
    );
    assert!(paced.recoveries <= 1 && paced.rtos == 0);
    assert!(
        paced.got > 2 * bursty.got,
        "{} vs {}",
        paced.got,
        bursty.got
    );
}

/// Reno's initial window is RFC 6928's ten segments (smoltcp patch 12), as Linux's: the
/// first round trip after the handshake carries 10 segments, not RFC 5681's 3, paced or not.
#[test]
fn the_first_round_trip_carries_ten_segments() {
    assert_eq!(through_bottleneck(false).first_flight, 10);
    assert_eq!(through_bottleneck(true).first_flight, 10);
}

/// The socket's size with 32 out-of-order ranges (net/Cargo.toml): still well within the 8 KiB
/// per socket the memory plan allows beyond its buffers (corenet's `SOCKET_OVERHEAD`).
#[test]
fn a_socket_with_32_reassembly_ranges_stays_small() {
    let size = core::mem::size_of::<tcp::Socket<'static>>();
    std::println!("tcp::Socket: {size} bytes");
    assert!(size < 4096, "{size}");
}
