//! A device that lies: every bad write-back is counted and dropped, never delivered, never a
//! panic, and the queue keeps working afterwards.

use corenet_nic::{Offload, RxFrame, RxQueue, TxQueue, TxSlot};

use super::*;
use crate::desc::*;
use crate::model::{Corruption, RxOutcome};
use crate::rx::BUF_SIZE;

/// Injects one frame with `c` applied, expects it dropped with one error, then checks a clean
/// frame still gets through.
fn dropped_then_recovers(c: Corruption) {
    let (model, _dev, mut pairs) = bring_up(1, 8);
    let rx = &mut pairs[0].rx;
    let mut frames = [RxFrame::default(); 8];
    for round in 0..10u8 {
        model.with(|d| d.corrupt_next_rx(c));
        assert_eq!(
            model.inject(&test_frame(round, 40)),
            RxOutcome::Delivered { queue: 0 }
        );
        assert_eq!(rx.rx_burst(&mut frames), 0, "{c:?} must not be delivered");
        assert_eq!(rx.counters().snapshot().errors, u64::from(round) + 1);
        let good = test_frame(round.wrapping_add(100), 40);
        model.inject(&good);
        assert_eq!(rx.rx_burst(&mut frames), 1);
        assert_eq!(rx.frame(&frames[0]), &good[..]);
        rx.release(frames[0]);
    }
    assert_eq!(rx.counters().snapshot().packets, 10);
}

#[test]
fn write_back_with_length_zero_is_dropped() {
    dropped_then_recovers(Corruption::LenZero);
}

#[test]
fn write_back_with_length_beyond_the_buffer_is_dropped() {
    dropped_then_recovers(Corruption::Len(BUF_SIZE as u16 + 1));
    dropped_then_recovers(Corruption::Len(u16::MAX));
}

#[test]
fn write_back_with_frame_error_bits_is_dropped() {
    for e in [RX_ERR_CE, RX_ERR_LE, RX_ERR_PE, RX_ERR_OSE, RX_ERR_USE] {
        dropped_then_recovers(Corruption::Errors(e));
    }
}

#[test]
fn write_back_without_eop_is_dropped_up_to_the_next_eop() {
    let (model, _dev, mut pairs) = bring_up(1, 8);
    let rx = &mut pairs[0].rx;
    let mut frames = [RxFrame::default(); 8];
    for round in 0..10u8 {
        // The device claims the frame continues: the next descriptor (a real frame) is taken
        // as its tail, and both are dropped as one bad frame.
        model.with(|d| d.corrupt_next_rx(Corruption::NoEop));
        model.inject(&test_frame(round, 40));
        model.inject(&test_frame(round.wrapping_add(50), 40));
        let good = test_frame(round.wrapping_add(100), 40);
        model.inject(&good);
        assert_eq!(rx.rx_burst(&mut frames), 1);
        assert_eq!(rx.frame(&frames[0]), &good[..]);
        rx.release(frames[0]);
        assert_eq!(rx.counters().snapshot().errors, u64::from(round) + 1);
    }
}

#[test]
fn checksum_error_bits_deliver_with_csum_not_ok() {
    let (model, _dev, mut pairs) = bring_up(1, 8);
    model.with(|d| d.corrupt_next_rx(Corruption::Errors(RX_STAT_L4CS | RX_ERR_TCPE)));
    model.inject(&test_frame(1, 40));
    let mut frames = [RxFrame::default(); 8];
    assert_eq!(pairs[0].rx.rx_burst(&mut frames), 1);
    assert!(!frames[0].csum_ok);
    model.with(|d| d.corrupt_next_rx(Corruption::Errors(RX_STAT_L4CS)));
    model.inject(&test_frame(2, 40));
    assert_eq!(pairs[0].rx.rx_burst(&mut frames), 1);
    assert!(frames[0].csum_ok);
}

#[test]
fn dd_on_descriptors_never_handed_to_the_device_is_ignored() {
    let (model, _dev, mut pairs) = bring_up(1, 8);
    let rx = &mut pairs[0].rx;
    let mut frames = [RxFrame::default(); 8];
    // Fill all 7 posted descriptors and keep the frames: the driver now owns 7 buffers, the
    // spare one gets posted at the next burst (descriptor 7).
    for i in 0..7 {
        model.inject(&test_frame(i, 40));
    }
    assert_eq!(rx.rx_burst(&mut frames), 7);
    assert_eq!(rx.rx_burst(&mut frames[7..]), 0);
    assert_eq!(rx.posted(), 1);
    // The device writes "done" write-backs into descriptors 0..7 — 0 to 6 were consumed and
    // not re-posted, so they are not the device's to write.
    let wb = [RSSTYPE_IPV4, 0x1234, RX_STAT_DD | RX_STAT_EOP, 60];
    for idx in 0..7 {
        model.with(|d| d.write_rx_desc(0, idx, wb));
    }
    let mut more = [RxFrame::default(); 8];
    assert_eq!(
        rx.rx_burst(&mut more),
        0,
        "no frame from descriptors it does not own"
    );
    // The held frames are unaffected and can still be read and released.
    for (i, f) in frames[..7].iter().enumerate() {
        assert_eq!(rx.frame(f)[42], i as u8);
        rx.release(*f);
    }
}

#[test]
fn tx_head_write_back_beyond_the_ring_or_ahead_of_the_tail_is_ignored() {
    let (model, _dev, mut pairs) = bring_up(1, 16);
    let tx = &mut pairs[0].tx;
    model.set_cable(false);
    for _ in 0..3 {
        let s = tx.alloc().unwrap();
        tx.submit(s, 60, Offload::default());
    }
    tx.flush();
    assert_eq!(tx.in_flight(), 3);
    for bogus in [16, 1000, u32::MAX, 5, 15] {
        model.with(|d| d.write_tx_head_wb(0, bogus));
        assert_eq!(tx.reclaim(), 0, "head {bogus}");
        assert_eq!(tx.in_flight(), 3);
    }
    assert_eq!(tx.counters().snapshot().errors, 5);
    // A truthful head reclaims exactly what it says.
    model.with(|d| d.write_tx_head_wb(0, 2));
    assert_eq!(tx.reclaim(), 2);
    assert_eq!(tx.in_flight(), 1);
}

#[test]
fn caller_mistakes_are_counted_not_trusted() {
    let (model, _dev, mut pairs) = bring_up(1, 16);
    let pair = &mut pairs[0];
    // A slot never handed out: empty buffer, submit refused.
    let forged = TxSlot { slot: 3 };
    assert!(pair.tx.buffer(&forged).is_empty());
    pair.tx.submit(forged, 60, Offload::default());
    let s = pair.tx.alloc().unwrap();
    pair.tx.submit(s, BUF_SIZE + 1, Offload::default());
    let s = pair.tx.alloc().unwrap();
    pair.tx.submit(
        s,
        60,
        Offload {
            l4_csum: Some((34, 59)), // the field would end past the frame
            tso: None,
        },
    );
    assert_eq!(pair.tx.counters().snapshot().errors, 3);
    pair.tx.flush();
    assert!(model.take_tx().is_empty());
    // Unknown or double-released RX frames.
    let fake = RxFrame {
        slot: 200,
        len: 60,
        ..RxFrame::default()
    };
    assert!(pair.rx.frame(&fake).is_empty());
    pair.rx.release(fake);
    model.inject(&test_frame(1, 40));
    let mut frames = [RxFrame::default(); 4];
    assert_eq!(pair.rx.rx_burst(&mut frames), 1);
    pair.rx.release(frames[0]);
    pair.rx.release(frames[0]);
    assert!(
        pair.rx.frame(&frames[0]).is_empty(),
        "released frames are gone"
    );
    // Still exactly one posted descriptor per buffer: 15 posted, ring of 16.
    pair.rx.rx_burst(&mut frames);
    assert_eq!(pair.rx.posted(), 15);
}

/// Seeded chaos: good traffic interleaved with random write-backs into random descriptors,
/// random TX heads, random corruption, random batch sizes and release orders. Nothing may
/// panic, every delivered frame must be within its buffer, and no buffer may be lost or
/// duplicated on either side.
#[test]
fn random_hostile_device_never_breaks_buffer_accounting() {
    for seed in [1u64, 0xdead_beef, 42, 7777] {
        let mut rng = Rng(seed);
        let (model, _dev, mut pairs) = bring_up(1, 16);
        let pair = &mut pairs[0];
        let mut held: std::vec::Vec<RxFrame> = std::vec::Vec::new();
        let mut allocated: std::vec::Vec<TxSlot> = std::vec::Vec::new();
        for _ in 0..3000 {
            match rng.next() % 10 {
                0..=2 => {
                    model.inject(&test_frame(rng.next() as u8, (rng.next() % 1400) as usize));
                }
                3 => {
                    let c = match rng.next() % 4 {
                        0 => Corruption::LenZero,
                        1 => Corruption::Len(rng.next() as u16),
                        2 => Corruption::Errors((rng.next() as u32) & 0xFFF0_0000),
                        _ => Corruption::NoEop,
                    };
                    model.with(|d| d.corrupt_next_rx(c));
                    model.inject(&test_frame(1, 100));
                }
                4 => {
                    let r = rng.next();
                    let dw = [
                        r as u32,
                        (r >> 32) as u32,
                        rng.next() as u32,
                        rng.next() as u32,
                    ];
                    model.with(|d| d.write_rx_desc(0, (r % 16) as u16, dw));
                }
                5 => {
                    let v = if rng.next().is_multiple_of(2) {
                        rng.next() as u32
                    } else {
                        (rng.next() % 16) as u32
                    };
                    model.with(|d| d.write_tx_head_wb(0, v));
                }
                6 => {
                    let mut frames = [RxFrame::default(); 32];
                    let n = pair
                        .rx
                        .rx_burst(&mut frames[..1 + (rng.next() % 32) as usize]);
                    for f in &frames[..n] {
                        assert!(usize::from(f.len) <= BUF_SIZE && f.len > 0);
                        assert_eq!(pair.rx.frame(f).len(), usize::from(f.len));
                        held.push(*f);
                    }
                }
                7 => {
                    while !held.is_empty() && !rng.next().is_multiple_of(3) {
                        let i = (rng.next() % held.len() as u64) as usize;
                        pair.rx.release(held.swap_remove(i));
                    }
                }
                8 => {
                    if let Some(s) = pair.tx.alloc() {
                        allocated.push(s);
                    }
                    if !allocated.is_empty() && rng.next().is_multiple_of(2) {
                        let s = allocated.swap_remove(0);
                        // Checksum requests too: TCP and UDP layouts (contexts come and go),
                        // and random ones (software, or refused).
                        let l4_csum = match rng.next() % 4 {
                            0 => None,
                            1 => Some((34, 16)),
                            2 => Some((34, 40)),
                            _ => Some((rng.next() as u16 % 200, rng.next() as u16 % 200)),
                        };
                        let len = (rng.next() % 2100) as usize;
                        pair.tx.submit(s, len, Offload { l4_csum, tso: None });
                    }
                }
                _ => {
                    pair.tx.flush();
                    model.advance((rng.next() % 100) as u32);
                    model.take_tx();
                }
            }
            let (posted, free, h) = pair.rx.accounting();
            assert_eq!(posted + free + h, 16, "rx buffers conserved (seed {seed})");
            assert_eq!(h, held.len());
            assert!(posted <= 15);
            let (queued, free, a) = pair.tx.accounting();
            assert_eq!(queued + free + a, 14, "tx buffers conserved (seed {seed})");
            assert_eq!(a, allocated.len());
        }
        // The run exercised both the good and the hostile paths. (Liveness is not asserted: DD
        // forged ahead of the device's head desynchronises driver and device for good, which
        // no driver can tell from a real completion without reading RDH per burst.)
        let (rx, tx) = (pair.rx.counters().snapshot(), pair.tx.counters().snapshot());
        assert!(rx.packets > 0 && rx.errors > 0, "seed {seed}: {rx:?}");
        assert!(tx.packets > 0 && tx.errors > 0, "seed {seed}: {tx:?}");
    }
}
