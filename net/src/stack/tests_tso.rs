//! TCP segmentation offload: with a queue that segments, a bulk sender hands it segments of
//! up to 64 KiB, never more than the congestion window and the peer's window allow; without
//! one, every frame fits the MTU.

extern crate std;

use std::vec::Vec;

use super::*;
use crate::sim::{SimNic, SimOffload, TsoStats};
use crate::testkit::{OUR_IP, Peer, cores_with, ip4, run};

/// What one transfer of `len` bytes from our side to a peer with a `peer_buf` receive
/// buffer did: the segmentation requests, the frames our queue sent, our retransmissions,
/// and the largest payload our side sent before the peer acknowledged anything beyond the
/// handshake (the first flight).
struct Outcome {
    tso: TsoStats,
    tx_frames: u64,
    retransmissions: u64,
    first_flight_max: usize,
}

fn send_bulk(offload: SimOffload, len: usize, peer_buf: usize) -> Outcome {
    let rss = RssConfig::new(1).unwrap();
    let nic = SimNic::new(rss.clone(), 4096);
    nic.set_offload(offload);
    let mut cores = cores_with(&nic, &rss, false, |c| {
        c.tcp_buffer = 256 * 1024;
    });
    let mut peer = Peer::new(&nic);
    cores[0].listen(5001).unwrap();
    let ph = peer.open((ip4(OUR_IP), 5001), 41_000, peer_buf);
    let mut now = 0;
    run(&mut cores, &mut peer, &mut now, 10);
    let h = cores[0].accept(5001).unwrap();
    let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    let (mut sent, mut got) = (0, Vec::with_capacity(len));
    let mut first_flight_max = None;
    for _ in 0..20_000 {
        while sent < len {
            match cores[0].send(h, &data[sent..]) {
                Ok(0) | Err(_) => break,
                Ok(n) => sent += n,
            }
        }
        // One tick: our side sends its first flight before any ACK of data comes back.
        now += 1000;
        for c in cores.iter_mut() {
            c.poll(now);
        }
        first_flight_max.get_or_insert(nic.tso_stats().max_payload);
        run(&mut cores, &mut peer, &mut now, 1);
        let ps = peer.tcp(ph);
        while let Ok(n) = ps.recv(|b| {
            got.extend_from_slice(b);
            (b.len(), b.len())
        }) {
            if n == 0 {
                break;
            }
        }
        if got.len() == len {
            break;
        }
    }
    assert!(got == data, "{} of {len} bytes, intact", got.len());
    let snap = cores[0].counters().snapshot();
    Outcome {
        tso: nic.tso_stats(),
        tx_frames: cores[0].queue_counters().1.packets.get(),
        retransmissions: snap.retransmissions,
        first_flight_max: first_flight_max.unwrap_or(0),
    }
}

const TSO: SimOffload = SimOffload {
    csum: true,
    tso: true,
};

#[test]
fn a_bulk_send_uses_large_segments_only_when_the_queue_segments() {
    let len = 4 << 20;
    let plain = send_bulk(SimOffload::default(), len, 256 * 1024);
    let csum = send_bulk(
        SimOffload {
            csum: true,
            tso: false,
        },
        len,
        256 * 1024,
    );
    let tso = send_bulk(TSO, len, 256 * 1024);
    // Without segmentation: no request, every frame MTU-sized (at least one per 1460 bytes).
    for o in [&plain, &csum] {
        assert_eq!(o.tso, TsoStats::default());
        assert!(o.tx_frames >= (len / 1460) as u64, "{}", o.tx_frames);
        assert_eq!(o.retransmissions, 0);
    }
    // With it: segments of up to 64 KiB (well past ten MSS once the window has grown), none
    // refused, and far fewer frames handed to the queue.
    assert!(tso.tso.frames > 0);
    assert!(tso.tso.max_payload > 40 * 1024, "{:?}", tso.tso);
    assert!(tso.tso.max_payload <= 65535 - 20 - 20, "{:?}", tso.tso);
    assert_eq!(tso.tso.refused, 0);
    assert!(
        tso.tx_frames * 10 < plain.tx_frames,
        "{} vs {}",
        tso.tx_frames,
        plain.tx_frames
    );
    assert_eq!(tso.retransmissions, 0);
}

#[test]
fn large_segments_stay_within_the_congestion_window() {
    // The first flight is the initial window (RFC 6928: ten segments of at most 1460).
    let o = send_bulk(TSO, 1 << 20, 256 * 1024);
    assert!(o.first_flight_max > 1460, "{}", o.first_flight_max);
    assert!(o.first_flight_max <= 10 * 1460, "{}", o.first_flight_max);
}

#[test]
fn large_segments_stay_within_the_peer_window() {
    // A peer with an 8 KiB receive buffer: no segment carries more than it advertises.
    let o = send_bulk(TSO, 1 << 20, 8 * 1024);
    assert!(o.tso.frames > 0);
    assert!(o.tso.max_payload <= 8 * 1024, "{:?}", o.tso);
    assert_eq!(o.tso.refused, 0);
}
