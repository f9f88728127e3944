//! Receive and transmit bursts, doorbells, notification suppression, ring wrap.

use super::*;
use corenet_nic::{Offload, RxFrame, RxQueue, TxQueue};

fn frame(i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|b| (b + i) as u8).collect()
}

#[test]
fn rx_burst_is_zero_copy_and_reposts_with_one_doorbell() {
    let mut r = rig(DeviceSpec::default(), 1);
    let rx = &mut r.pairs[0].rx;
    let frames: Vec<Vec<u8>> = (0..3).map(|i| frame(i, 60 + i)).collect();
    let refs: Vec<&[u8]> = frames.iter().map(|f| f.as_slice()).collect();
    let hdr = rx_hdr(20, 2, Some(0xdead_beef));
    assert_eq!(r.dev.rx_deliver(0, &hdr, &refs), 3);
    assert_eq!(r.dev.avail_pending(0), 253);
    let mut out = [RxFrame::default(); 32];
    let n = rx.rx_burst(&mut out);
    assert_eq!(n, 3);
    for (i, f) in out[..n].iter().enumerate() {
        assert_eq!(rx.frame(f), frames[i].as_slice());
        assert_eq!(f.rss_hash, Some(0xdead_beef));
        assert!(f.csum_ok);
    }
    let c = rx.counters().snapshot();
    assert_eq!((c.packets, c.bytes, c.errors), (3, 60 + 61 + 62, 0));
    let bells = c.doorbells;
    for f in &out[..n] {
        rx.release(*f);
    }
    // A released frame is no longer readable, a double release is ignored.
    assert!(rx.frame(&out[0]).is_empty());
    rx.release(out[0]);
    // The device asks to be notified at the next index: exactly one doorbell for the batch.
    r.dev.set_avail_event(0, 256);
    assert_eq!(rx.rx_burst(&mut out), 0);
    assert_eq!(r.dev.avail_pending(0), 256);
    assert_eq!(rx.counters().doorbells.get(), bells + 1);
}

#[test]
fn event_idx_suppresses_doorbells_the_device_does_not_want() {
    let mut r = rig(DeviceSpec::default(), 1);
    let tx = &mut r.pairs[0].tx;
    // First flush crosses avail_event 0: rings.
    let s = tx.alloc().unwrap();
    tx.submit(s, 60, Offload::default());
    tx.flush();
    assert_eq!(tx.counters().doorbells.get(), 1);
    assert_eq!(r.bells.rung(1), 1);
    // The device is still busy (avail_event stays 0): no doorbell for the next batches.
    for _ in 0..3 {
        let s = tx.alloc().unwrap();
        tx.submit(s, 60, Offload::default());
        tx.flush();
    }
    assert_eq!(tx.counters().doorbells.get(), 1);
    // It asks again.
    r.dev.set_avail_event(1, 4);
    let s = tx.alloc().unwrap();
    tx.submit(s, 60, Offload::default());
    tx.flush();
    assert_eq!(tx.counters().doorbells.get(), 2);
    // An empty flush never rings.
    tx.flush();
    assert_eq!(tx.counters().doorbells.get(), 2);
}

#[test]
fn tx_burst_builds_in_place_and_reclaims_in_batches() {
    let mut r = rig(DeviceSpec::default(), 1);
    let tx = &mut r.pairs[0].tx;
    assert!(tx.csum_offload());
    for i in 0..32 {
        let s = tx.alloc().unwrap();
        let b = tx.buffer(&s);
        assert!(b.len() >= 1514);
        let f = frame(i, 100);
        b[..100].copy_from_slice(&f);
        let off = if i == 0 {
            Offload {
                // TCP over IPv4: checksum from offset 34, stored at 34 + 16.
                l4_csum: Some((34, 50)),
                tso: None,
            }
        } else {
            Offload::default()
        };
        tx.submit(s, 100, off);
    }
    tx.flush();
    assert_eq!(tx.counters().doorbells.get(), 1);
    let sent = r.dev.tx_complete(1);
    assert_eq!(sent.len(), 32);
    for (i, s) in sent.iter().enumerate() {
        assert_eq!(s.len(), 20 + 100);
        assert_eq!(&s[20..], frame(i, 100).as_slice());
    }
    // NEEDS_CSUM with csum_start 34, csum_offset 16 on the first, a zero header on the rest.
    assert_eq!(&sent[0][..10], &[1, 0, 0, 0, 0, 0, 34, 0, 16, 0]);
    assert!(sent[1][..20].iter().all(|&b| b == 0));
    assert_eq!(tx.in_flight(), 32, "completed but not yet reclaimed");
    assert_eq!(tx.reclaim(), 32);
    assert_eq!(tx.in_flight(), 0);
    let c = tx.counters().snapshot();
    assert_eq!((c.packets, c.bytes, c.errors), (32, 3200, 0));
    // Oversized and cancelled buffers go back without reaching the device.
    let s = tx.alloc().unwrap();
    tx.submit(s, 4000, Offload::default());
    let s = tx.alloc().unwrap();
    tx.cancel(s);
    tx.flush();
    assert_eq!(tx.counters().errors.get(), 1);
    assert!(r.dev.tx_complete(1).is_empty());
}

#[test]
fn tx_headers_follow_the_checksum_request_on_every_buffer() {
    // Headers are only rewritten when a buffer's checksum request changes: send every buffer
    // with a request, then without, then with again, and read what the device got each time.
    let mut r = rig(DeviceSpec::default(), 1);
    let tx = &mut r.pairs[0].tx;
    for (round, csum) in [true, false, true, false].into_iter().enumerate() {
        for _ in 0..256 {
            let s = tx.alloc().unwrap();
            tx.buffer(&s)[..60].fill(round as u8);
            let l4_csum = csum.then_some((34, 50));
            tx.submit(s, 60, Offload { l4_csum, tso: None });
        }
        tx.flush();
        let sent = r.dev.tx_complete(1);
        assert_eq!(sent.len(), 256);
        for s in &sent {
            if csum {
                assert_eq!(
                    &s[..12],
                    &[1, 0, 0, 0, 0, 0, 34, 0, 16, 0, 0, 0],
                    "round {round}"
                );
                assert!(s[12..20].iter().all(|&b| b == 0));
            } else {
                assert!(
                    s[..20].iter().all(|&b| b == 0),
                    "round {round}: {:?}",
                    &s[..20]
                );
            }
            assert!(s[20..].iter().all(|&b| b == round as u8));
        }
    }
    assert_eq!(tx.counters().errors.get(), 0);
}

#[test]
fn tx_checksum_offsets_outside_the_frame_are_refused() {
    let mut r = rig(DeviceSpec::default(), 1);
    let tx = &mut r.pairs[0].tx;
    // Result before the start, straddling the end, past the end: refused and counted.
    for (start, off, len) in [
        (34u16, 30u16, 60usize),
        (34, 59, 60),
        (34, 500, 60),
        (70, 80, 60),
    ] {
        let s = tx.alloc().unwrap();
        tx.submit(
            s,
            len,
            Offload {
                l4_csum: Some((start, off)),
                tso: None,
            },
        );
    }
    assert_eq!(tx.counters().errors.get(), 4);
    // The last two bytes of the frame are fine; the header holds the relative offset.
    let s = tx.alloc().unwrap();
    tx.submit(
        s,
        60,
        Offload {
            l4_csum: Some((34, 58)),
            tso: None,
        },
    );
    tx.flush();
    let sent = r.dev.tx_complete(1);
    assert_eq!(sent.len(), 1);
    assert_eq!(&sent[0][..10], &[1, 0, 0, 0, 0, 0, 34, 0, 24, 0]);
    assert_eq!(tx.counters().errors.get(), 4);
    // Refused buffers went back to the free list, the sent one was completed: all 256 can be
    // allocated again.
    let mut n = 0;
    while tx.alloc().is_some() {
        n += 1;
        assert!(n <= 256);
    }
    assert_eq!(n, 256);
}

#[test]
fn rings_wrap_past_the_16_bit_index() {
    let mut r = rig(DeviceSpec::default(), 2);
    let mut out = [RxFrame::default(); 32];
    let mut total = 0u64;
    let hdr = rx_hdr(20, 0, None);
    for round in 0..20_000usize {
        let n = 1 + round % 7;
        let frames: Vec<Vec<u8>> = (0..n).map(|i| frame(round + i, 64)).collect();
        let refs: Vec<&[u8]> = frames.iter().map(|f| f.as_slice()).collect();
        let p = &mut r.pairs[1];
        assert_eq!(r.dev.rx_deliver(2, &hdr, &refs), n);
        let got = p.rx.rx_burst(&mut out);
        assert_eq!(got, n);
        for (i, f) in out[..got].iter().enumerate() {
            assert_eq!(p.rx.frame(f), frames[i].as_slice());
            assert_eq!(f.rss_hash, None);
            // Echo it.
            let s = p.tx.alloc().unwrap();
            p.tx.buffer(&s)[..64].copy_from_slice(&frames[i]);
            p.tx.submit(s, 64, Offload::default());
            p.rx.release(*f);
        }
        p.tx.flush();
        if round % 3 == 0 {
            r.dev.tx_complete_count(3);
        }
        total += n as u64;
    }
    assert!(total > 65_536);
    let p = &r.pairs[1];
    assert_eq!(p.rx.counters().packets.get(), total);
    assert_eq!(p.rx.counters().errors.get(), 0);
    assert_eq!(p.tx.counters().packets.get(), total);
    assert_eq!(p.tx.counters().errors.get(), 0);
}

#[test]
fn plain_header_without_hash_report() {
    let spec = DeviceSpec {
        features: DeviceSpec::default().features
            - (crate::features::Features::RSS | crate::features::Features::GUEST_CSUM),
        ..DeviceSpec::default()
    };
    let mut r = rig(spec, 1);
    let rx = &mut r.pairs[0].rx;
    let hdr = rx_hdr(12, 2, None);
    r.dev.rx_deliver(0, &hdr, &[&[7u8; 60]]);
    let mut out = [RxFrame::default(); 4];
    assert_eq!(rx.rx_burst(&mut out), 1);
    assert_eq!(rx.frame(&out[0]), &[7u8; 60]);
    assert!(
        !out[0].csum_ok,
        "DATA_VALID means nothing without GUEST_CSUM"
    );
    assert_eq!(out[0].rss_hash, None);
}

#[test]
fn an_idle_receive_queue_rings_its_doorbell_now_and_then() {
    // QEMU's software RSS can leave a queue waiting for a notification it would not otherwise
    // get (crate::rx::IDLE_KICK): a polling core re-rings after that many empty bursts.
    let mut r = rig(DeviceSpec::default(), 1);
    let rx = &mut r.pairs[0].rx;
    let mut out = [RxFrame::default(); 4];
    let before = rx.counters().doorbells.get();
    for _ in 0..crate::rx::IDLE_KICK - 1 {
        assert_eq!(rx.rx_burst(&mut out), 0);
    }
    assert_eq!(
        rx.counters().doorbells.get(),
        before,
        "no doorbell before the limit"
    );
    assert_eq!(rx.rx_burst(&mut out), 0);
    assert_eq!(
        rx.counters().doorbells.get(),
        before + 1,
        "one doorbell at the limit"
    );
    // A received frame resets the count.
    r.dev.rx_deliver(0, &rx_hdr(20, 0, None), &[&[7u8; 60]]);
    assert_eq!(rx.rx_burst(&mut out), 1);
    for _ in 0..crate::rx::IDLE_KICK - 1 {
        rx.rx_burst(&mut out);
    }
    assert_eq!(rx.counters().doorbells.get(), before + 1);
}
