//! Data path: bursts across ring wrap, both directions, counters, link loss.

use std::vec::Vec;

use corenet_nic::{Offload, RxFrame, RxQueue, TxQueue};

use super::*;
use crate::model::RxOutcome;

/// Receives everything queued on `rx` in bursts of `batch`, returning copies and releasing.
fn drain(rx: &mut impl RxQueue, batch: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut frames = [RxFrame::default(); 32];
    loop {
        let n = rx.rx_burst(&mut frames[..batch]);
        if n == 0 {
            return out;
        }
        for f in &frames[..n] {
            out.push(rx.frame(f).to_vec());
            rx.release(*f);
        }
    }
}

fn send(tx: &mut impl TxQueue, frames: &[Vec<u8>]) {
    for f in frames {
        let slot = tx.alloc().expect("a free transmit buffer");
        tx.buffer(&slot)[..f.len()].copy_from_slice(f);
        tx.submit(slot, f.len(), Offload::default());
    }
    tx.flush();
}

#[test]
fn rx_and_tx_bursts_across_ring_wrap() {
    // 8 descriptors: every few rounds both rings wrap.
    let (model, mut dev, mut pairs) = bring_up(1, 8);
    let mut rng = Rng(0x1234_5678);
    let (mut sent, mut bytes) = (0u64, 0u64);
    for round in 0..200u32 {
        // Up to the 6 buffers of an 8-descriptor ring.
        let k = 1 + (rng.next() % 6) as usize;
        let batch = [1, 3, 32][round as usize % 3];
        let frames: Vec<Vec<u8>> = (0..k)
            .map(|i| {
                test_frame(
                    (round as u8).wrapping_mul(7).wrapping_add(i as u8),
                    18 + i * 50,
                )
            })
            .collect();
        for f in &frames {
            assert_eq!(model.inject(f), RxOutcome::Delivered { queue: 0 });
        }
        let got = drain(&mut pairs[0].rx, batch);
        assert_eq!(got, frames, "round {round}");
        // Send the same frames back out.
        send(&mut pairs[0].tx, &got);
        let out = model.take_tx();
        assert_eq!(out.len(), k);
        for (o, f) in out.iter().zip(&frames) {
            assert_eq!(o.queue, 0);
            assert!(o.fcs);
            assert_eq!(&o.data[..f.len()], &f[..]);
            assert!(o.data.len() >= 60, "short frames are padded");
        }
        sent += k as u64;
        bytes += frames.iter().map(|f| f.len() as u64).sum::<u64>();
    }
    let rxc = pairs[0].rx.counters().snapshot();
    assert_eq!((rxc.packets, rxc.bytes, rxc.errors), (sent, bytes, 0));
    let txc = pairs[0].tx.counters().snapshot();
    assert_eq!((txc.packets, txc.bytes, txc.errors), (sent, bytes, 0));
    // One tail write per burst, not per packet.
    assert!(txc.doorbells == 200, "tx doorbells {}", txc.doorbells);
    let hw = dev.stats().clone();
    assert_eq!(hw.rx_good_packets, sent);
    assert_eq!(hw.rx_good_octets, bytes + 4 * sent);
    assert_eq!(hw.tx_good_packets, sent);
    assert_eq!(hw.rx_queue_packets[0], sent);
    assert_eq!(hw.tx_queue_packets[0], sent);
    assert_eq!(hw.rx_missed, 0);
    assert_eq!(model.faults(), 0);
}

#[test]
fn held_buffers_mean_missed_frames_then_recovery() {
    let (model, mut dev, mut pairs) = bring_up(1, 8);
    let rx = &mut pairs[0].rx;
    // 7 of 8 descriptors are posted; fill them all and keep the frames.
    for i in 0..7 {
        assert_eq!(
            model.inject(&test_frame(i, 30)),
            RxOutcome::Delivered { queue: 0 }
        );
    }
    assert_eq!(
        model.inject(&test_frame(99, 30)),
        RxOutcome::Missed { queue: 0 }
    );
    let mut frames = [RxFrame::default(); 32];
    assert_eq!(rx.rx_burst(&mut frames), 7);
    // Held, not released: only the one spare buffer can be posted.
    assert_eq!(rx.rx_burst(&mut frames[7..]), 0);
    assert_eq!(rx.posted(), 1);
    assert_eq!(
        model.inject(&test_frame(50, 30)),
        RxOutcome::Delivered { queue: 0 }
    );
    assert_eq!(
        model.inject(&test_frame(51, 30)),
        RxOutcome::Missed { queue: 0 }
    );
    // Release in reverse order; the buffers come back and frames flow again.
    for (i, f) in frames[..7].iter().enumerate().rev() {
        assert_eq!(
            rx.frame(f)[42],
            i as u8,
            "payload of frame {i} intact while held"
        );
        rx.release(*f);
    }
    let got = drain(rx, 32);
    assert_eq!(got, [test_frame(50, 30)]);
    for i in 0..7 {
        assert_eq!(
            model.inject(&test_frame(i, 30)),
            RxOutcome::Delivered { queue: 0 }
        );
    }
    assert_eq!(drain(rx, 4).len(), 7);
    assert_eq!(dev.stats().rx_missed, 2);
    assert_eq!(model.faults(), 0);
}

#[test]
fn tx_ring_full_while_link_is_down_then_drains() {
    let (model, _dev, mut pairs) = bring_up(1, 16);
    let tx = &mut pairs[0].tx;
    model.set_cable(false);
    let f = test_frame(1, 100);
    // 14 buffers for 16 descriptors (one stays empty, one is kept for a context).
    for _ in 0..14 {
        send(tx, core::slice::from_ref(&f));
    }
    assert!(tx.alloc().is_none(), "ring full of unsent frames");
    assert!(model.take_tx().is_empty(), "nothing leaves without a link");
    model.set_cable(true);
    model.advance(100_000);
    assert_eq!(model.take_tx().len(), 14);
    // Completions were written back: buffers are reclaimed on demand.
    let slot = tx.alloc().expect("reclaimed");
    tx.cancel(slot);
    assert_eq!(tx.in_flight(), 0);
    assert_eq!(model.faults(), 0);
}

#[test]
fn frames_arriving_without_link_are_lost_not_hung_on() {
    let (model, dev, mut pairs) = bring_up(1, 16);
    model.set_cable(false);
    assert!(!dev.link().up);
    assert_eq!(model.inject(&test_frame(1, 10)), RxOutcome::NoLink);
    assert_eq!(pairs[0].rx.rx_burst(&mut [RxFrame::default(); 4]), 0);
    model.set_cable(true);
    model.advance(100_000);
    assert!(dev.link().up);
    assert_eq!(
        model.inject(&test_frame(2, 10)),
        RxOutcome::Delivered { queue: 0 }
    );
    assert_eq!(drain(&mut pairs[0].rx, 32), [test_frame(2, 10)]);
}

#[test]
fn frames_for_other_macs_are_filtered_broadcast_accepted() {
    let (model, _dev, mut pairs) = bring_up(1, 16);
    let other = ipv4_frame(
        [2, 2, 2, 2, 2, 2],
        ([1, 1, 1, 1], [2, 2, 2, 2], 1, 2),
        false,
        10,
        0,
    );
    assert_eq!(model.inject(&other), RxOutcome::Filtered);
    let bcast = ipv4_frame([0xFF; 6], ([1, 1, 1, 1], [2, 2, 2, 2], 1, 2), false, 10, 0);
    assert_eq!(model.inject(&bcast), RxOutcome::Delivered { queue: 0 });
    assert_eq!(drain(&mut pairs[0].rx, 32), [bcast]);
}
