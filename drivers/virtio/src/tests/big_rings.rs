//! Queues of 1024 entries (QEMU's `rx_queue_size=1024`): sizes as offered, every id usable.

use super::*;
use corenet_nic::{Offload, RxFrame, RxQueue, TxQueue};

/// QEMU 7.2 on a tap with `rx_queue_size=1024,tx_queue_size=1024`: 1024 receive entries, the
/// transmit queue capped at 256.
fn qemu_tap_1024() -> DeviceSpec {
    DeviceSpec {
        queue_max: 1024,
        tx_queue_max: Some(256),
        ..DeviceSpec::default()
    }
}

#[test]
fn each_queue_gets_the_size_the_device_offers_up_to_1024() {
    let r = rig(qemu_tap_1024(), 2);
    for k in 0..2 {
        assert_eq!(r.dev.queue_size(2 * k), 1024, "receiveq({k})");
        assert_eq!(r.dev.queue_size(2 * k + 1), 256, "transmitq({k})");
    }
    // Every receive buffer is posted at start.
    assert_eq!(r.dev.avail_pending(0), 1024);
    // A device offering more than the driver's maximum gets the maximum.
    let huge = DeviceSpec {
        queue_max: 4096,
        ..DeviceSpec::default()
    };
    let r = rig(huge, 1);
    assert_eq!(usize::from(r.dev.queue_size(0)), crate::MAX_QUEUE_SIZE);
    assert_eq!(usize::from(r.dev.queue_size(1)), crate::MAX_QUEUE_SIZE);
}

#[test]
fn a_full_1024_receive_ring_is_received_in_order_and_reposted() {
    let mut r = rig(qemu_tap_1024(), 1);
    let rx = &mut r.pairs[0].rx;
    let hdr = rx_hdr(20, 2, Some(7));
    // Three rounds: the ring's free-running indices wrap past 1024 and ids reach 1023.
    for round in 0..3u8 {
        let frames: Vec<Vec<u8>> = (0..1100usize)
            .map(|i| {
                let mut f = std::vec![round; 64];
                f[..2].copy_from_slice(&(i as u16).to_le_bytes());
                f
            })
            .collect();
        let refs: Vec<&[u8]> = frames.iter().map(|f| f.as_slice()).collect();
        // The device fills the whole ring and no more: 1024 of 1100 fit.
        assert_eq!(r.dev.rx_deliver(0, &hdr, &refs), 1024);
        assert_eq!(r.dev.avail_pending(0), 0);
        let mut out = [RxFrame::default(); 64];
        let mut seen = 0usize;
        loop {
            let n = rx.rx_burst(&mut out);
            if n == 0 {
                break;
            }
            for f in &out[..n] {
                assert_eq!(rx.frame(f), frames[seen].as_slice(), "frame {seen}");
                seen += 1;
                rx.release(*f);
            }
        }
        assert_eq!(seen, 1024);
        // Released buffers are back with the device after the next burst's publish.
        assert_eq!(rx.rx_burst(&mut out), 0);
        assert_eq!(r.dev.avail_pending(0), 1024);
    }
    assert_eq!(rx.counters().snapshot().errors, 0);
}

#[test]
fn a_1024_transmit_ring_holds_1024_frames_in_flight() {
    let spec = DeviceSpec {
        queue_max: 1024,
        ..DeviceSpec::default()
    };
    let mut r = rig(spec, 1);
    let tx = &mut r.pairs[0].tx;
    for round in 0..2 {
        let mut n = 0;
        while let Some(s) = tx.alloc() {
            tx.submit(s, 60 + n % 7, Offload::default());
            n += 1;
            assert!(n <= 1024);
        }
        tx.flush();
        assert_eq!((n, tx.in_flight()), (1024, 1024), "round {round}");
        if round == 0 {
            // Forged completions (beyond the ring; a neighbour in the id encoding) free nothing.
            r.dev.push_used_raw(1, 1024 + 3, 0);
            r.dev.push_used_raw(1, 3 ^ 0x600, 0);
            assert!(tx.alloc().is_none());
            assert_eq!(tx.counters().errors.get(), 2);
        }
        assert_eq!(r.dev.tx_complete(1).len(), 1024);
    }
    let mut n = 0;
    while tx.alloc().is_some() {
        n += 1;
        assert!(n <= 1024);
    }
    assert_eq!(n, 1024);
}
