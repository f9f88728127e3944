//! TCP segmentation offload: large buffers, the segmentation header, the refusals.

use super::*;
use crate::features::Features;
use crate::{TSO_BUFS, TSO_MAX_FRAME};
use corenet_nic::{Offload, Tso, TxQueue};

fn tso_spec() -> DeviceSpec {
    let mut spec = DeviceSpec::default();
    spec.features |= Features::HOST_TSO4;
    spec
}

fn tso(mss: u16, hdr_len: u16, ipv6: bool) -> Offload {
    Offload {
        l4_csum: Some((34, 50)),
        tso: Some(Tso { mss, hdr_len, ipv6 }),
    }
}

#[test]
fn a_large_frame_leaves_with_the_segmentation_header() {
    let mut r = rig(tso_spec(), 1);
    assert!(r.dev.driver_features().contains(Features::HOST_TSO4));
    let tx = &mut r.pairs[0].tx;
    assert_eq!(tx.tso_max_frame(), Some(TSO_MAX_FRAME));
    let s = tx.alloc_large().expect("a large buffer");
    let len = 14 + 20 + 32 + 40_000;
    let buf = tx.buffer(&s);
    assert!(buf.len() >= TSO_MAX_FRAME);
    for (i, b) in buf[..len].iter_mut().enumerate() {
        *b = i as u8;
    }
    tx.submit(s, len, tso(1448, 66, false));
    tx.flush();
    let sent = r.dev.tx_complete(1);
    assert_eq!(sent.len(), 1);
    let h = &sent[0][..12];
    // flags NEEDS_CSUM, gso_type TCPV4, hdr_len 66, gso_size 1448, csum_start 34,
    // csum_offset 16, num_buffers 0 (5.1.6, little-endian).
    assert_eq!(h, &[1, 1, 66, 0, 0xa8, 0x05, 34, 0, 16, 0, 0, 0]);
    assert_eq!(
        sent[0].len(),
        20 + len,
        "header (HASH_REPORT: 20 bytes) and the whole frame"
    );
    assert!(sent[0][20..].iter().enumerate().all(|(i, &b)| b == i as u8));
    assert_eq!(tx.counters().errors.get(), 0);
    // IPv6 says so in gso_type.
    let s = tx.alloc_large().unwrap();
    tx.submit(s, 5000, tso(1428, 86, true));
    tx.flush();
    assert_eq!(r.dev.tx_complete(1)[0][1], 4);
}

#[test]
fn large_buffers_are_a_bounded_pool_of_their_own() {
    let mut r = rig(tso_spec(), 1);
    let tx = &mut r.pairs[0].tx;
    let mut big = Vec::new();
    while let Some(s) = tx.alloc_large() {
        big.push(s);
    }
    assert_eq!(big.len(), usize::from(TSO_BUFS));
    for s in big {
        tx.submit(s, 3000, tso(1448, 54, false));
    }
    tx.flush();
    // Small buffers: the rest of the ring, never a large one.
    let mut small = Vec::new();
    while let Some(s) = tx.alloc() {
        assert!(tx.buffer(&s).len() < 4096);
        small.push(s);
    }
    assert_eq!(small.len(), 256 - usize::from(TSO_BUFS));
    for s in small {
        tx.cancel(s);
    }
    // Completions of large buffers go back to the large pool, through `alloc` too.
    assert_eq!(r.dev.tx_complete_count(1), usize::from(TSO_BUFS));
    let s = tx.alloc().unwrap();
    assert!(tx.buffer(&s).len() < 4096);
    tx.cancel(s);
    let mut n = 0;
    while tx.alloc_large().is_some() {
        n += 1;
    }
    assert_eq!(n, usize::from(TSO_BUFS));
}

#[test]
fn segmentation_requests_the_device_must_not_see_are_refused() {
    let mut r = rig(tso_spec(), 1);
    let tx = &mut r.pairs[0].tx;
    // In a small buffer; without a checksum request; a zero segment size; headers past the
    // frame; headers ending before the checksum field; a frame over the largest.
    let cases: [(bool, usize, Offload); 6] = [
        (false, 1000, tso(1448, 54, false)),
        (
            true,
            3000,
            Offload {
                l4_csum: None,
                tso: Some(Tso {
                    mss: 1448,
                    hdr_len: 54,
                    ipv6: false,
                }),
            },
        ),
        (true, 3000, tso(0, 54, false)),
        (true, 40, tso(1448, 54, false)),
        (true, 3000, tso(1448, 40, false)),
        (true, TSO_MAX_FRAME + 1, tso(1448, 54, false)),
    ];
    for (large, len, o) in cases {
        let s = if large { tx.alloc_large() } else { tx.alloc() }.unwrap();
        tx.submit(s, len, o);
    }
    tx.flush();
    assert_eq!(tx.counters().errors.get(), 6);
    assert!(r.dev.tx_complete(1).is_empty());
    // Every refused buffer went back to its pool.
    let mut n = 0;
    while tx.alloc_large().is_some() {
        n += 1;
    }
    assert_eq!(n, usize::from(TSO_BUFS));
}

#[test]
fn without_tso_offered_or_wanted_there_are_no_large_buffers() {
    let mut r = rig(DeviceSpec::default(), 1);
    let tx = &mut r.pairs[0].tx;
    assert_eq!(tx.tso_max_frame(), None);
    assert!(tx.alloc_large().is_none());
    let mut cfg = NetConfig::new(RssConfig::new(1).unwrap());
    cfg.spins = 1000;
    cfg.wish.tso = false;
    let mut r = rig_with(tso_spec(), &cfg).unwrap();
    assert!(!r.dev.driver_features().contains(Features::HOST_TSO4));
    assert!(r.pairs[0].tx.alloc_large().is_none());
    // A small ring has no room for them: TSO negotiated, not used.
    let mut spec = tso_spec();
    spec.queue_max = 32;
    let mut r = rig(spec, 1);
    assert!(r.pairs[0].tx.alloc_large().is_none());
    assert_eq!(r.pairs[0].tx.tso_max_frame(), None);
}
