//! A hostile device: bad ids, duplicates, bad lengths, index jumps, never completing.

use super::*;
use crate::BUF_SIZE;
use corenet_nic::{Offload, RxFrame, RxQueue, TxQueue};

#[test]
fn rx_ids_out_of_range_are_counted_and_skipped() {
    let mut r = rig(DeviceSpec::default(), 1);
    let rx = &mut r.pairs[0].rx;
    r.dev.push_used_raw(0, 256, 100);
    r.dev.push_used_raw(0, u32::MAX, 100);
    r.dev.push_used_raw(0, 65_536, 100); // would alias id 0 if truncated to u16
    let mut out = [RxFrame::default(); 8];
    assert_eq!(rx.rx_burst(&mut out), 0);
    assert_eq!(rx.counters().errors.get(), 3);
    // A good frame still gets through afterwards.
    r.dev.rx_deliver(0, &rx_hdr(20, 0, None), &[&[1u8; 64]]);
    assert_eq!(rx.rx_burst(&mut out), 1);
    assert_eq!(rx.frame(&out[0]), &[1u8; 64]);
}

#[test]
fn rx_duplicate_ids_are_counted_and_skipped() {
    let mut r = rig(DeviceSpec::default(), 1);
    let rx = &mut r.pairs[0].rx;
    r.dev.rx_deliver(0, &rx_hdr(20, 0, None), &[&[9u8; 64]]);
    r.dev.push_used_raw(0, 0, 84); // id 0 again while the stack holds it
    let mut out = [RxFrame::default(); 8];
    assert_eq!(rx.rx_burst(&mut out), 1);
    assert_eq!(rx.counters().errors.get(), 1);
    // id 1 is posted; its header is zero (num_buffers 0, which QEMU writes without
    // MRG_RXBUF), so the first completion is a frame and the second a duplicate.
    r.dev.push_used_raw(0, 1, 84);
    r.dev.push_used_raw(0, 1, 84);
    assert_eq!(rx.rx_burst(&mut out), 1);
    assert_eq!(rx.counters().errors.get(), 2);
}

#[test]
fn rx_lengths_beyond_buffer_or_below_header_drop_and_repost() {
    let mut r = rig(DeviceSpec::default(), 1);
    let rx = &mut r.pairs[0].rx;
    let a = r.dev.take_avail(0).unwrap();
    let b = r.dev.take_avail(0).unwrap();
    let c = r.dev.take_avail(0).unwrap();
    r.dev.push_used_raw(0, u32::from(a), BUF_SIZE as u32 + 1);
    r.dev.push_used_raw(0, u32::from(b), 19); // shorter than the 20-byte header
    r.dev.push_used_raw(0, u32::from(c), u32::MAX);
    let mut out = [RxFrame::default(); 8];
    assert_eq!(rx.rx_burst(&mut out), 0);
    assert_eq!(rx.counters().errors.get(), 3);
    assert_eq!(rx.counters().packets.get(), 0);
    // Dropped buffers are posted again at the next burst.
    assert_eq!(r.dev.avail_pending(0), 253);
    rx.rx_burst(&mut out);
    assert_eq!(r.dev.avail_pending(0), 256);
    // A bad num_buffers (no MRG_RXBUF negotiated) is dropped too.
    let mut hdr = rx_hdr(20, 0, None);
    hdr[10] = 3;
    r.dev.rx_deliver(0, &hdr, &[&[0u8; 64]]);
    assert_eq!(rx.rx_burst(&mut out), 0);
    assert_eq!(rx.counters().errors.get(), 4);
}

#[test]
fn used_index_jumps_never_overrun() {
    let mut r = rig(DeviceSpec::default(), 1);
    let p = &mut r.pairs[0];
    r.dev.set_used_idx(0, 1000);
    let mut out = [RxFrame::default(); 32];
    for _ in 0..100 {
        let n = p.rx.rx_burst(&mut out);
        for f in &out[..n] {
            assert!(usize::from(f.len) <= BUF_SIZE);
            assert!(p.rx.frame(f).len() == usize::from(f.len));
            p.rx.release(*f);
        }
    }
    assert!(p.rx.counters().errors.get() > 0);
    // TX: a jump with nothing in flight reclaims nothing.
    r.dev.set_used_idx(1, 40_000);
    assert_eq!(p.tx.reclaim(), 0);
    assert!(p.tx.counters().errors.get() > 0);
    assert!(p.tx.alloc().is_some());
}

#[test]
fn device_that_never_completes_fills_the_tx_ring() {
    let mut r = rig(DeviceSpec::default(), 1);
    let tx = &mut r.pairs[0].tx;
    let mut n = 0;
    while let Some(s) = tx.alloc() {
        tx.submit(s, 60, Offload::default());
        n += 1;
        assert!(n <= 256);
    }
    tx.flush();
    assert_eq!(n, 256);
    assert_eq!(tx.in_flight(), 256);
    assert!(tx.alloc().is_none());
    // Bogus completions free nothing.
    r.dev.push_used_raw(1, 999, 0);
    assert!(tx.alloc().is_none());
    assert_eq!(tx.counters().errors.get(), 1);
    // A real completion followed by a duplicate of it: one buffer back, one error.
    let id = r.dev.take_avail(1).unwrap();
    r.dev.push_used_raw(1, u32::from(id), 0);
    r.dev.push_used_raw(1, u32::from(id), 0);
    assert!(tx.alloc().is_some());
    assert!(tx.alloc().is_none());
    assert_eq!(tx.counters().errors.get(), 2);
}

#[test]
fn forged_slots_from_the_caller_are_refused() {
    let mut r = rig(DeviceSpec::default(), 1);
    let p = &mut r.pairs[0];
    let forged = RxFrame {
        slot: 5,
        len: 100,
        ..RxFrame::default()
    };
    assert!(p.rx.frame(&forged).is_empty());
    p.rx.release(forged);
    assert!(p.tx.buffer(&corenet_nic::TxSlot { slot: 3 }).is_empty());
    p.tx.submit(corenet_nic::TxSlot { slot: 300 }, 60, Offload::default());
    assert_eq!(p.tx.counters().errors.get(), 1);
}

#[test]
fn randomized_hostile_device_keeps_invariants() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut r = rig(DeviceSpec::default(), 1);
    let mut out = [RxFrame::default(); 32];
    let mut held: Vec<RxFrame> = Vec::new();
    for _ in 0..20_000 {
        let p = &mut r.pairs[0];
        match rng.below(8) {
            0 => {
                let len = rng.below(1600) as usize;
                let f = std::vec![0xa5u8; len];
                r.dev
                    .rx_deliver(0, &rx_hdr(20, rng.below(4) as u8, Some(1)), &[&f]);
            }
            1 => {
                let id = if rng.below(2) == 0 {
                    rng.below(300) as u32
                } else {
                    rng.next() as u32
                };
                r.dev.push_used_raw(0, id, rng.next() as u32 % 4096);
            }
            2 => {
                let q = rng.below(2) as u16;
                let jump = rng.below(600) as u16;
                r.dev.set_used_idx(q, r.dev.used_idx(q).wrapping_add(jump));
            }
            3 => {
                let n = p.rx.rx_burst(&mut out);
                for f in &out[..n] {
                    let b = p.rx.frame(f);
                    assert_eq!(b.len(), usize::from(f.len));
                    assert!(b.len() + 20 <= BUF_SIZE);
                    held.push(*f);
                }
            }
            4 => {
                while let Some(f) = held.pop() {
                    p.rx.release(f);
                }
            }
            5 => {
                for _ in 0..rng.below(40) {
                    match p.tx.alloc() {
                        Some(s) => {
                            p.tx.submit(s, 1 + rng.below(1600) as usize, Offload::default())
                        }
                        None => break,
                    }
                }
                p.tx.flush();
            }
            6 => {
                r.dev.tx_complete_count(1);
            }
            _ => {
                r.dev.push_used_raw(1, rng.below(260) as u32, 0);
            }
        }
        assert!(p.tx.in_flight() <= 256);
    }
    let c = r.pairs[0].rx.counters().snapshot();
    assert!(c.errors > 0 && c.packets > 0, "{c:?}");
}

#[test]
fn absurd_max_virtqueue_pairs_does_not_overflow() {
    let spec = DeviceSpec {
        max_pairs: u16::MAX,
        ..DeviceSpec::default()
    };
    let mut cfg = crate::NetConfig::new(corenet_nic::RssConfig::new(2).unwrap());
    cfg.spins = 10;
    // The control queue index is computed as 2 * 0x7fff (no overflow); this fake has no
    // doorbell that far out, which is refused with a typed error.
    assert_eq!(
        rig_with(spec, &cfg).err(),
        Some(crate::InitError::Doorbell(
            crate::doorbell::DoorbellError::OutOfRange {
                queue: 0xfffe,
                offset: 0xfffe * 4
            }
        ))
    );
}

#[test]
fn rx_duplicate_of_a_dropped_id_in_the_same_burst_is_rejected() {
    let mut r = rig(DeviceSpec::default(), 1);
    let rx = &mut r.pairs[0].rx;
    let a = r.dev.take_avail(0).unwrap();
    // A bad length drops the frame; the same id again (a valid length this time) is a
    // duplicate of a completion already consumed, not a buffer the device holds.
    r.dev.push_used_raw(0, u32::from(a), BUF_SIZE as u32 + 1);
    r.dev.push_used_raw(0, u32::from(a), 84);
    let mut out = [RxFrame::default(); 8];
    assert_eq!(rx.rx_burst(&mut out), 0);
    assert_eq!(rx.counters().errors.get(), 2);
    // Re-posted exactly once.
    rx.rx_burst(&mut out);
    assert_eq!(r.dev.avail_pending(0), 256);
    // And it is the device's again: a real completion of it is a frame.
    r.dev.rx_deliver(0, &rx_hdr(20, 0, None), &[&[7u8; 64]]);
    assert_eq!(rx.rx_burst(&mut out), 1);
    assert_eq!(rx.frame(&out[0]), &[7u8; 64]);
}

#[test]
fn forged_tokens_aliasing_held_ids_are_refused() {
    let mut r = rig(DeviceSpec::default(), 1);
    let p = &mut r.pairs[0];
    r.dev.rx_deliver(0, &rx_hdr(20, 0, None), &[&[3u8; 64]]);
    let mut out = [RxFrame::default(); 8];
    assert_eq!(p.rx.rx_burst(&mut out), 1);
    let real = out[0];
    p.rx.rx_burst(&mut out);
    let posted = r.dev.avail_pending(0);
    // Same low byte, other high bits; and the tag encodings of the other holders.
    let aliases = [
        real.slot + 256,
        real.slot | 0x8000,
        real.slot ^ 0x80,
        real.slot ^ 0x180,
        real.slot ^ 0x40,
        u16::MAX,
    ];
    for slot in aliases {
        let forged = RxFrame { slot, ..real };
        assert!(p.rx.frame(&forged).is_empty(), "rx slot {slot:#x}");
        p.rx.release(forged);
    }
    p.rx.rx_burst(&mut out);
    assert_eq!(r.dev.avail_pending(0), posted, "a forged release re-posted");
    assert_eq!(p.rx.frame(&real), &[3u8; 64]);
    p.rx.release(real);
    // Released once: a stale copy is refused.
    assert!(p.rx.frame(&real).is_empty());

    let s = p.tx.alloc().unwrap();
    let id = s.slot;
    for slot in [id + 256, id | 0x8000, id ^ 0x80, id ^ 0x180, id ^ 0x40] {
        let forged = corenet_nic::TxSlot { slot };
        assert!(p.tx.buffer(&forged).is_empty(), "tx slot {slot:#x}");
        p.tx.submit(forged, 60, Offload::default());
    }
    assert_eq!(p.tx.counters().errors.get(), 5);
    p.tx.submit(s, 60, Offload::default());
    // Submitted: a forged copy of the same token is no longer the stack's.
    p.tx.submit(corenet_nic::TxSlot { slot: id }, 60, Offload::default());
    assert_eq!(p.tx.counters().errors.get(), 6);
    p.tx.flush();
    assert_eq!(r.dev.tx_complete(1).len(), 1);
}
