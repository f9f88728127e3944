//! Soft queues against a fake single hardware queue pair: steering, ring-full and oversize
//! drops, transmit draining and back-pressure, hostile slot ids.

extern crate std;

use std::vec::Vec;

use corenet_nic::{Offload, RxFrame, RxQueue, TxQueue, TxSlot};

use super::fake_hw::{FakeRx, FakeTx, arp_frame, tcp_frame};
use super::*;
use crate::sim::steer;

fn drain(rx: &mut SoftRx) -> Vec<(RxFrame, Vec<u8>)> {
    let mut got = Vec::new();
    let mut burst = [RxFrame::default(); 8];
    loop {
        let n = rx.rx_burst(&mut burst);
        for f in &burst[..n] {
            got.push((*f, rx.frame(f).to_vec()));
            rx.release(*f);
        }
        if n == 0 {
            return got;
        }
    }
}

fn send(tx: &mut SoftTx, frame: &[u8]) -> bool {
    let Some(slot) = tx.alloc() else { return false };
    tx.buffer(&slot)[..frame.len()].copy_from_slice(frame);
    tx.submit(slot, frame.len(), Offload::default());
    true
}

#[test]
fn frames_reach_the_core_the_hash_names_in_order() {
    let rss = RssConfig::new(4).unwrap();
    let (mut dist, mut pairs) = soft_queues(&rss, 256).unwrap();
    let mut hw_rx = FakeRx::new();
    let mut hw_tx = FakeTx::new(64, 2048, true);
    let mut expect: Vec<Vec<Vec<u8>>> = std::vec![Vec::new(); 4];
    for i in 0..600u32 {
        let f = if i % 10 == 0 {
            arp_frame(i)
        } else {
            tcp_frame(
                [10, 0, 0, 1],
                20_000 + (i * 37) as u16,
                80,
                i,
                60 + i as usize,
            )
        };
        expect[usize::from(steer(&rss, &f))].push(f.clone());
        hw_rx.wire.push_back(f);
    }
    let mut total = PumpReport::default();
    for _ in 0..10 {
        let r = dist.pump(&mut hw_rx, &mut hw_tx, 100);
        assert!(r.rx_frames <= 100);
        total.rx_frames += r.rx_frames;
        total.rx_delivered += r.rx_delivered;
    }
    assert_eq!((total.rx_frames, total.rx_delivered), (600, 600));
    assert_eq!(hw_rx.outstanding(), 0, "every hardware buffer released");
    assert_eq!(dist.counters().rx_unhashed.get(), 60);
    for (q, (rx, _)) in pairs.iter_mut().enumerate() {
        assert_eq!(rx.queue_index(), q as u16);
        let got = drain(rx);
        assert!(got.len() > 60, "core {q} got {}", got.len());
        let frames: Vec<Vec<u8>> = got.iter().map(|(_, b)| b.clone()).collect();
        assert_eq!(frames, expect[q], "core {q}: every frame, intact, in order");
        for (f, bytes) in &got {
            if bytes[12..14] == [0x08, 0x06] {
                assert_eq!(f.rss_hash, None);
            } else {
                let port = |at: usize| u16::from_be_bytes([bytes[at], bytes[at + 1]]);
                let h = rss.hash_ipv4_l4([10, 0, 0, 1], [10, 0, 0, 2], port(34), port(36));
                assert_eq!(f.rss_hash, Some(h), "the hash a NIC would report");
            }
            assert!(f.csum_ok, "the hardware's verdict is passed on");
        }
        let c = rx.counters().snapshot();
        assert_eq!(c.packets, expect[q].len() as u64);
        assert_eq!(
            c.bytes,
            expect[q].iter().map(|f| f.len() as u64).sum::<u64>()
        );
        assert_eq!(c.drops, 0);
    }
}

#[test]
fn a_full_ring_drops_and_counts_then_recovers() {
    let rss = RssConfig::new(2).unwrap();
    let (mut dist, mut pairs) = soft_queues(&rss, 4).unwrap();
    let mut hw_rx = FakeRx::new();
    let mut hw_tx = FakeTx::new(8, 2048, true);
    let flow = |tag| tcp_frame([10, 0, 0, 1], 40_000, 80, tag, 64);
    let core = usize::from(steer(&rss, &flow(0)));
    for tag in 0..10 {
        hw_rx.wire.push_back(flow(tag));
    }
    let r = dist.pump(&mut hw_rx, &mut hw_tx, 64);
    assert_eq!((r.rx_frames, r.rx_delivered, r.rx_dropped), (10, 4, 6));
    assert_eq!(dist.ring_full(core), 6);
    assert_eq!(dist.ring_full(1 - core), 0);
    assert_eq!(dist.counters().drop_ring_full.get(), 6);
    assert_eq!(
        hw_rx.outstanding(),
        0,
        "dropped frames' buffers released too"
    );

    let rx = &mut pairs[core].0;
    let mut burst = [RxFrame::default(); 8];
    assert_eq!(rx.rx_burst(&mut burst), 4);
    assert_eq!(rx.counters().drops.get(), 6, "the queue reports its drops");
    let tags: Vec<u8> = burst[..4].iter().map(|f| rx.frame(f)[57]).collect();
    assert_eq!(tags, [0, 1, 2, 3], "the first four survive, in order");
    // Held by the stack: the pool is empty, the next frame is dropped too.
    hw_rx.wire.push_back(flow(10));
    assert_eq!(dist.pump(&mut hw_rx, &mut hw_tx, 64).rx_dropped, 1);
    for f in &burst[..4] {
        pairs[core].0.release(*f);
    }
    // Released buffers reach the distributor at the next burst, in one doorbell.
    let rx = &mut pairs[core].0;
    assert_eq!(rx.rx_burst(&mut burst), 0);
    assert_eq!(rx.counters().doorbells.get(), 1);
    for tag in 11..15 {
        hw_rx.wire.push_back(flow(tag));
    }
    assert_eq!(dist.pump(&mut hw_rx, &mut hw_tx, 64).rx_delivered, 4);
    let got = drain(&mut pairs[core].0);
    assert_eq!(got.len(), 4);
    assert_eq!(got[0].1[57], 11);
    assert_eq!(pairs[core].0.counters().drops.get(), 7);
}

#[test]
fn oversize_frames_are_dropped_and_tagged_maxima_pass() {
    let rss = RssConfig::new(1).unwrap();
    let (mut dist, mut pairs) = soft_queues(&rss, 8).unwrap();
    let mut hw_rx = FakeRx::new();
    let mut hw_tx = FakeTx::new(8, 2048, true);
    hw_rx
        .wire
        .push_back(tcp_frame([1, 2, 3, 4], 1, 2, 0, FRAME_MAX + 1));
    hw_rx
        .wire
        .push_back(tcp_frame([1, 2, 3, 4], 1, 2, 1, FRAME_MAX));
    hw_rx.wire.push_back(Vec::new());
    let r = dist.pump(&mut hw_rx, &mut hw_tx, 64);
    assert_eq!((r.rx_delivered, r.rx_dropped), (2, 1));
    assert_eq!(dist.counters().drop_too_large.get(), 1);
    let got = drain(&mut pairs[0].0);
    assert_eq!(got[0].1.len(), FRAME_MAX);
    assert!(
        got[1].1.is_empty(),
        "an empty frame is the stack's to reject"
    );
}

#[test]
fn transmit_drains_every_core_with_one_flush() {
    let rss = RssConfig::new(3).unwrap();
    let (mut dist, mut pairs) = soft_queues(&rss, 16).unwrap();
    let mut hw_rx = FakeRx::new();
    let mut hw_tx = FakeTx::new(256, 2048, true);
    for (q, (_, tx)) in pairs.iter_mut().enumerate() {
        assert_eq!(tx.queue_index(), q as u16);
        for i in 0..16 {
            assert!(send(tx, &tcp_frame([10, 0, 0, q as u8], 1, 2, i, 100 + q)));
        }
        assert!(tx.alloc().is_none(), "all 16 buffers in flight");
    }
    // Submitted but not flushed: the distributor sees nothing yet.
    assert_eq!(dist.pump(&mut hw_rx, &mut hw_tx, 64).tx_frames, 0);
    for (_, tx) in pairs.iter_mut() {
        tx.flush();
        assert_eq!(tx.counters().packets.get(), 16);
        assert_eq!(tx.counters().doorbells.get(), 1);
    }
    let r = dist.pump(&mut hw_rx, &mut hw_tx, 64);
    assert_eq!(r.tx_frames, 48);
    assert_eq!(hw_tx.flushes, 1);
    for q in 0..3u8 {
        let tags: Vec<u32> = hw_tx
            .sent
            .iter()
            .filter(|f| f[29] == q)
            .map(|f| u32::from_be_bytes([f[54], f[55], f[56], f[57]]))
            .collect();
        assert_eq!(tags, (0..16).collect::<Vec<_>>(), "core {q}: all, in order");
    }
    // The buffers came back.
    for (_, tx) in pairs.iter_mut() {
        for _ in 0..16 {
            let s = tx.alloc().expect("buffer returned");
            tx.cancel(s);
        }
    }
    assert_eq!(dist.counters().tx_frames.get(), 48);
}

#[test]
fn a_full_hardware_ring_is_back_pressure_not_loss() {
    let rss = RssConfig::new(2).unwrap();
    let (mut dist, mut pairs) = soft_queues(&rss, 4).unwrap();
    let mut hw_rx = FakeRx::new();
    let mut hw_tx = FakeTx::new(3, 2048, false);
    let mut sent = 0;
    for (q, (_, tx)) in pairs.iter_mut().enumerate() {
        for i in 0..4 {
            assert!(send(tx, &tcp_frame([10, 0, 0, q as u8], 1, 2, i, 64)));
            sent += 1;
        }
        tx.flush();
    }
    let mut pumps = 0;
    while hw_tx.sent.len() < sent {
        pumps += 1;
        assert!(pumps < 10);
        let r = dist.pump(&mut hw_rx, &mut hw_tx, 64);
        assert!(r.tx_frames <= 3);
        assert!(r.tx_blocked || hw_tx.sent.len() == sent);
        assert_eq!(r.tx_dropped, 0);
        hw_tx.complete();
    }
    assert_eq!(hw_tx.sent.len(), 8);
    assert!(dist.counters().tx_no_buffer.get() >= 2);
    // Round robin: both cores were served within the first two pumps.
    let first: Vec<u8> = hw_tx.sent[..6].iter().map(|f| f[29]).collect();
    assert!(first.contains(&0) && first.contains(&1), "{first:?}");
}

#[test]
fn frames_too_large_for_the_hardware_buffer_are_dropped() {
    let rss = RssConfig::new(1).unwrap();
    let (mut dist, mut pairs) = soft_queues(&rss, 4).unwrap();
    let mut hw_tx = FakeTx::new(4, 100, true);
    let tx = &mut pairs[0].1;
    assert!(send(tx, &tcp_frame([1, 1, 1, 1], 1, 2, 0, 200)));
    assert!(send(tx, &tcp_frame([1, 1, 1, 1], 1, 2, 1, 100)));
    tx.flush();
    let r = dist.pump(&mut FakeRx::new(), &mut hw_tx, 64);
    assert_eq!((r.tx_frames, r.tx_dropped), (1, 1));
    assert_eq!(dist.counters().tx_too_large.get(), 1);
    assert_eq!(hw_tx.sent.len(), 1);
    assert_eq!(
        hw_tx.free.len(),
        4,
        "the unused hardware buffer was cancelled"
    );
}

#[test]
fn hostile_slot_ids_and_lengths_do_not_panic_or_leak() {
    let rss = RssConfig::new(1).unwrap();
    let (_dist, mut pairs) = soft_queues(&rss, 4).unwrap();
    let (rx, tx) = &mut pairs[0];
    let bogus = RxFrame {
        slot: 9999,
        len: 60,
        rss_hash: None,
        csum_ok: false,
    };
    assert!(rx.frame(&bogus).is_empty());
    rx.release(bogus);
    rx.release(RxFrame { slot: 0, ..bogus });
    assert!(tx.buffer(&TxSlot { slot: 9999 }).is_empty());
    tx.submit(TxSlot { slot: 3 }, 60, Offload::default());
    tx.cancel(TxSlot { slot: 9999 });
    assert_eq!(tx.counters().errors.get(), 1);
    let s = tx.alloc().unwrap();
    assert!(tx.buffer(&s).len() >= 1514);
    tx.submit(s, FRAME_MAX + 1, Offload::default());
    assert_eq!(tx.counters().errors.get(), 2);
    tx.flush();
    assert_eq!(tx.counters().packets.get(), 0);
    // Every buffer is still in the pool.
    let held: Vec<TxSlot> = (0..4).map(|_| tx.alloc().unwrap()).collect();
    assert!(tx.alloc().is_none());
    for s in held {
        tx.cancel(s);
    }
    assert!(tx.alloc().is_some());
}

#[test]
fn bad_configurations_are_rejected() {
    let rss = RssConfig::new(2).unwrap();
    assert_eq!(
        soft_queues(&rss, 0).err(),
        Some(SoftQueuesError::BadDepth(0))
    );
    assert_eq!(
        soft_queues(&rss, MAX_DEPTH + 1).err(),
        Some(SoftQueuesError::BadDepth(MAX_DEPTH + 1))
    );
    let mut bad = rss.clone();
    bad.table[5] = 2;
    assert_eq!(
        soft_queues(&bad, 8).err(),
        Some(SoftQueuesError::BadTable(2))
    );
    assert!(soft_queues(&rss, MAX_DEPTH).is_ok());
}

#[test]
fn pairs_and_distributor_move_between_cores() {
    fn is_send<T: Send>() {}
    is_send::<SoftRx>();
    is_send::<SoftTx>();
    is_send::<Distributor>();
}

#[test]
fn random_bytes_never_panic_and_every_frame_is_accounted_for() {
    let rss = RssConfig::new(3).unwrap();
    let (mut dist, mut pairs) = soft_queues(&rss, 16).unwrap();
    let mut hw_rx = FakeRx::new();
    let mut hw_tx = FakeTx::new(8, 2048, true);
    let mut rng = crate::testkit::Rng(0x0bad_cafe_u64);
    let mut next = || rng.next();
    let mut received = 0;
    for round in 0..200 {
        for _ in 0..next() % 40 {
            let len = (next() % 2100) as usize;
            let mut f: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            // Half of them look like IPv4 (maybe tagged), so parsing goes deep.
            if len > 18 && next() % 2 == 0 {
                f[12..14].copy_from_slice(&[0x08, 0x00]);
                f[14] = 0x40 | (f[14] & 0x0f);
            } else if len > 18 && next() % 4 == 0 {
                f[12..14].copy_from_slice(&[0x81, 0x00]);
                f[16..18].copy_from_slice(&[0x08, 0x00]);
            }
            hw_rx.wire.push_back(f);
        }
        dist.pump(&mut hw_rx, &mut hw_tx, 64);
        // Cores drain only now and then, so rings fill up.
        if round % 3 == 0 {
            for (rx, _) in pairs.iter_mut() {
                received += drain(rx).len() as u64;
            }
        }
    }
    loop {
        dist.pump(&mut hw_rx, &mut hw_tx, 64);
        for (rx, _) in pairs.iter_mut() {
            received += drain(rx).len() as u64;
            assert_eq!(rx.pending(), 0);
        }
        if hw_rx.wire.is_empty() {
            break;
        }
    }
    let c = dist.counters();
    assert!(c.drop_too_large.get() > 0 && c.drop_ring_full.get() > 0);
    assert_eq!(
        c.rx_frames.get(),
        c.rx_delivered.get() + c.drop_too_large.get() + c.drop_ring_full.get()
    );
    assert_eq!(received, c.rx_delivered.get());
    let drops: u64 = pairs.iter().map(|(rx, _)| rx.counters().drops.get()).sum();
    assert_eq!(drops, c.drop_ring_full.get());
    assert_eq!(hw_rx.outstanding(), 0);
}

static HOLD_CLOCK: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

fn hold_clock() -> u64 {
    HOLD_CLOCK.load(core::sync::atomic::Ordering::Relaxed)
}

fn at(ns: u64) {
    HOLD_CLOCK.store(ns, core::sync::atomic::Ordering::Relaxed);
}

/// The core reads every frame waiting for it and hands the buffers back; their tags.
fn read_all(rx: &mut SoftRx) -> Vec<u8> {
    let got = drain(rx);
    let mut burst = [RxFrame::default(); 8];
    assert_eq!(rx.rx_burst(&mut burst), 0); // posts the released buffers back
    got.iter().map(|(_, b)| b[57]).collect()
}

/// Two cores of 4 buffers each with a 20 ms hold, the clock at 1 us, and `frames` frames of
/// one flow (tags 0..) waiting in the hardware queue: the rig and the flow's core.
fn hold_rig(frames: u8) -> (Distributor, Vec<SoftPair>, FakeRx, FakeTx, usize) {
    let rss = RssConfig::new(2).unwrap();
    let (mut dist, pairs) = soft_queues(&rss, 4).unwrap();
    dist.set_hold(20_000_000, hold_clock);
    at(1_000);
    let mut hw_rx = FakeRx::new();
    for tag in 0..frames {
        hw_rx.wire.push_back(flow(tag));
    }
    let core = usize::from(steer(&rss, &flow(0)));
    (dist, pairs, hw_rx, FakeTx::new(8, 2048, true), core)
}

/// A frame of the hold tests' one flow, tagged `tag` (byte 57).
fn flow(tag: u8) -> Vec<u8> {
    tcp_frame([10, 0, 0, 1], 40_000, 80, tag.into(), 64)
}

#[test]
fn with_a_hold_a_full_core_leaves_frames_in_the_hardware_queue_for_a_while() {
    let (mut dist, mut pairs, mut hw_rx, mut hw_tx, core) = hold_rig(6);
    // Four buffers: four frames delivered, two left in the hardware queue, none dropped.
    let r = dist.pump(&mut hw_rx, &mut hw_tx, 64);
    assert_eq!((r.rx_frames, r.rx_delivered, r.rx_dropped), (4, 4, 0));
    assert!(r.rx_held);
    assert_eq!(hw_rx.wire.len(), 2);
    // Still full 10 ms later (the core does not run): still held.
    at(10_001_000);
    assert_eq!(dist.pump(&mut hw_rx, &mut hw_tx, 64).rx_frames, 0);
    // It runs: the two waiting frames follow its four, in order.
    assert_eq!(read_all(&mut pairs[core].0), [0, 1, 2, 3]);
    let r = dist.pump(&mut hw_rx, &mut hw_tx, 64);
    assert_eq!((r.rx_frames, r.rx_delivered, r.rx_dropped), (2, 2, 0));
    assert!(!r.rx_held);
    // 5 ms on it stalls again with its ring full: held, then after 20 ms dropped as without a hold.
    at(15_000_000);
    for tag in 6..12 {
        hw_rx.wire.push_back(flow(tag));
    }
    let r = dist.pump(&mut hw_rx, &mut hw_tx, 64);
    assert_eq!((r.rx_frames, r.rx_delivered, r.rx_dropped), (2, 2, 0));
    assert!(r.rx_held);
    at(35_000_001);
    let r = dist.pump(&mut hw_rx, &mut hw_tx, 64);
    assert_eq!((r.rx_frames, r.rx_delivered, r.rx_dropped), (4, 0, 4));
    assert_eq!(dist.ring_full(core), 4);
    assert_eq!(dist.ring_full(1 - core), 0);
    assert_eq!(hw_rx.outstanding(), 0, "every hardware buffer released");
    assert_eq!(read_all(&mut pairs[core].0), [4, 5, 6, 7]);
    assert_eq!(dist.counters().rx_hold_overloaded.get(), 0);
}

#[test]
fn a_core_full_again_right_after_a_hold_is_overloaded_and_not_held_for() {
    let (mut dist, mut pairs, mut hw_rx, mut hw_tx, core) = hold_rig(10);
    assert!(dist.pump(&mut hw_rx, &mut hw_tx, 64).rx_held);
    // The core frees its four at once, and its ring is full again at once: it runs but
    // cannot keep up (a flood). The rest is dropped for it, not held.
    at(1_500);
    assert_eq!(read_all(&mut pairs[core].0), [0, 1, 2, 3]);
    let r = dist.pump(&mut hw_rx, &mut hw_tx, 64);
    assert_eq!((r.rx_frames, r.rx_delivered, r.rx_dropped), (6, 4, 2));
    assert_eq!(dist.counters().rx_hold_overloaded.get(), 1);
    // For the next 100 ms: no hold.
    at(50_000_000);
    for tag in 10..12 {
        hw_rx.wire.push_back(flow(tag));
    }
    let r = dist.pump(&mut hw_rx, &mut hw_tx, 64);
    assert_eq!((r.rx_frames, r.rx_dropped), (2, 2));
    assert!(!r.rx_held);
}

#[test]
fn without_a_hold_nothing_changes() {
    let rss = RssConfig::new(2).unwrap();
    let (mut dist, _pairs) = soft_queues(&rss, 4).unwrap();
    let mut hw_rx = FakeRx::new();
    let mut hw_tx = FakeTx::new(8, 2048, true);
    for tag in 0..10 {
        hw_rx
            .wire
            .push_back(tcp_frame([10, 0, 0, 1], 40_000, 80, tag, 64));
    }
    let r = dist.pump(&mut hw_rx, &mut hw_tx, 64);
    assert_eq!((r.rx_frames, r.rx_delivered, r.rx_dropped), (10, 4, 6));
    assert!(!r.rx_held);
    assert_eq!(dist.counters().rx_held.get(), 0);
}
