//! Transmit checksum offload: the driver loads contexts, the model computes and inserts TCP and
//! UDP checksums, and an independent checker here verifies every frame with its pseudo-header.

use std::vec::Vec;

use corenet_nic::{Offload, TxQueue};

use super::*;
use crate::model::TxFrame;

/// The one's-complement sum (RFC 1071) of `data` added to `sum`, unfolded.
fn add(sum: u64, data: &[u8]) -> u64 {
    data.chunks(2)
        .map(|c| u64::from(u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)])))
        .fold(sum, |a, w| a + w)
}

fn fold(mut s: u64) -> u16 {
    while s > 0xFFFF {
        s = (s & 0xFFFF) + (s >> 16);
    }
    s as u16
}

/// The IPv4 pseudo-header (addresses, protocol, L4 length) sum of an IPv4 frame.
fn pseudo(f: &[u8]) -> u64 {
    let total = usize::from(u16::from_be_bytes([f[16], f[17]]));
    let ihl = usize::from(f[14] & 0xF) * 4;
    let l4_len = (total - ihl) as u64;
    add(0, &f[26..34]) + u64::from(f[23]) + l4_len
}

/// Whether the TCP/UDP checksum of an IPv4 frame verifies (only the IP datagram counts, not
/// Ethernet padding).
fn l4_checksum_ok(f: &[u8]) -> bool {
    let total = usize::from(u16::from_be_bytes([f[16], f[17]]));
    let ihl = usize::from(f[14] & 0xF) * 4;
    fold(add(pseudo(f), &f[14 + ihl..14 + total])) == 0xFFFF
}

/// What a stack hands the driver: the checksum field holding the pseudo-header sum.
fn with_pseudo(mut f: Vec<u8>, tcp: bool) -> Vec<u8> {
    let at = 34 + if tcp { 16 } else { 6 };
    let p = fold(pseudo(&f));
    f[at..at + 2].copy_from_slice(&p.to_be_bytes());
    f
}

fn frame(tcp: bool, i: usize) -> Vec<u8> {
    let flow = ([10, 0, 0, 1], [10, 0, 0, 2], 1000 + i as u16, 80);
    // Odd and even lengths, and frames short enough to be padded.
    with_pseudo(ipv4_frame(MAC, flow, tcp, i * 37 % 1400, i as u8), tcp)
}

/// Sends `frames` with the given offload requests in one burst.
fn send(tx: &mut impl TxQueue, frames: &[(Vec<u8>, Offload)]) {
    for (f, o) in frames {
        let s = tx.alloc().expect("a free buffer");
        tx.buffer(&s)[..f.len()].copy_from_slice(f);
        tx.submit(s, f.len(), *o);
    }
    tx.flush();
}

fn csum(start: u16, offset: u16) -> Offload {
    Offload {
        l4_csum: Some((start, offset)),
        tso: None,
    }
}

/// Every sent frame verifies and, checksum aside, is what was handed to the driver.
fn check(out: &[TxFrame], sent: &[(Vec<u8>, Offload)]) {
    assert_eq!(out.len(), sent.len());
    for (o, (f, _)) in out.iter().zip(sent) {
        assert!(l4_checksum_ok(&o.data), "{o:?}");
        let mut expect = o.data[..f.len()].to_vec();
        let at = if f[23] == 6 { 50 } else { 40 };
        expect[at..at + 2].copy_from_slice(&f[at..at + 2]);
        assert_eq!(&expect, f);
    }
}

#[test]
fn tcp_and_udp_checksums_are_inserted_by_the_device() {
    let (model, _dev, mut pairs) = bring_up(1, 64);
    let tx = &mut pairs[0].tx;
    assert!(tx.csum_offload());
    // TCP with virtio's reading of the offset (from start), UDP with the absolute one.
    for (tcp, off) in [(true, csum(34, 16)), (false, csum(34, 40))] {
        for round in 0..4 {
            let sent: Vec<_> = (0..20).map(|i| (frame(tcp, round * 20 + i), off)).collect();
            send(tx, &sent);
            let out = model.take_tx();
            check(&out, &sent);
            assert!(out.iter().all(|o| o.l4_csum), "the device did it");
        }
    }
    // One context per layout, not one per packet.
    assert_eq!(model.tx_contexts_loaded(), 2);
    assert_eq!(tx.software_checksums(), 0);
    assert_eq!(tx.counters().snapshot().errors, 0);
    assert_eq!(model.faults(), 0);
}

#[test]
fn layouts_the_device_cannot_do_are_checksummed_by_the_driver() {
    let (model, _dev, mut pairs) = bring_up(1, 64);
    let tx = &mut pairs[0].tx;
    // TCP then UDP in one burst: the UDP context cannot be loaded while the TCP one is still
    // in flight (one descriptor is kept for contexts), so the driver computes UDP itself.
    let mut sent: Vec<_> = (0..5).map(|i| (frame(true, i), csum(34, 16))).collect();
    sent.extend((5..10).map(|i| (frame(false, i), csum(34, 6))));
    send(tx, &sent);
    let out = model.take_tx();
    check(&out, &sent);
    assert!(out[..5].iter().all(|o| o.l4_csum));
    assert!(out[5..].iter().all(|o| !o.l4_csum));
    assert_eq!(tx.software_checksums(), 5);
    assert_eq!(model.tx_contexts_loaded(), 1);

    // An offset no context expresses (start + 10): computed by the driver over start..end,
    // the field's old content (the caller's partial sum) included.
    let mut f = frame(false, 77);
    f[44..46].copy_from_slice(&[0x12, 0x34]); // inside the payload
    send(tx, &[(f.clone(), csum(34, 10))]);
    let out = model.take_tx();
    assert!(!out[0].l4_csum);
    assert_eq!(fold(add(0x1234, &out[0].data[34..f.len()])), 0xFFFF);
    assert_eq!(out[0].data[..44], f[..44]);
    assert_eq!(tx.software_checksums(), 6);

    // The next UDP burst, with the TCP context completed, loads the UDP context.
    let sent: Vec<_> = (0..5).map(|i| (frame(false, i), csum(34, 6))).collect();
    send(tx, &sent);
    let out = model.take_tx();
    check(&out, &sent);
    assert!(out.iter().all(|o| o.l4_csum));
    assert_eq!(model.tx_contexts_loaded(), 2);
    assert_eq!(model.faults(), 0);
    assert_eq!(tx.counters().snapshot().errors, 0);
}

#[test]
fn the_model_refuses_offload_without_a_context() {
    // Written by hand, not by the driver: TXSM with CC but context slot 1 never loaded.
    let (model, _dev, mut pairs) = bring_up(1, 64);
    let tx = &mut pairs[0].tx;
    send(tx, &[(frame(true, 1), csum(34, 16))]);
    model.take_tx();
    assert_eq!(model.faults(), 0);
    let f = frame(true, 2);
    let out = model.with(|d| {
        let mut data = f.clone();
        let olinfo = crate::desc::TX_OLINFO_CC
            | crate::desc::TX_POPTS_TXSM
            | 1 << crate::desc::TX_OLINFO_IDX_SHIFT;
        d.apply_tx_offload(0, olinfo, &mut data)
    });
    assert!(!out, "nothing inserted");
    assert_eq!(model.faults(), 1);
    // TXSM without CC is refused too; with CC and slot 0 (loaded by the driver) it works.
    let mut data = f.clone();
    assert!(!model.with(|d| d.apply_tx_offload(0, crate::desc::TX_POPTS_TXSM, &mut data)));
    assert_eq!(model.faults(), 2);
    let olinfo = crate::desc::TX_OLINFO_CC | crate::desc::TX_POPTS_TXSM;
    assert!(model.with(|d| d.apply_tx_offload(0, olinfo, &mut data)));
    assert!(l4_checksum_ok(&data));
}

#[test]
fn random_layouts_bursts_and_completions_always_give_correct_checksums() {
    // A small ring wraps often; contexts are reloaded as layouts change, and fall back to
    // software whenever one is still in flight.
    let (model, _dev, mut pairs) = bring_up(1, 16);
    let tx = &mut pairs[0].tx;
    let mut rng = Rng(0x0ff1_0ad5);
    let (mut sent, mut got, mut by_device) = (Vec::new(), 0usize, 0usize);
    for i in 0..3000 {
        let tcp = rng.next().is_multiple_of(2);
        let f = frame(tcp, i);
        let off = if tcp { csum(34, 16) } else { csum(34, 6) };
        let s = match tx.alloc() {
            Some(s) => s,
            None => {
                // Ring full: hand everything to the device and let it catch up.
                tx.flush();
                let out = model.take_tx();
                check(&out, &sent[got..got + out.len()]);
                by_device += out.iter().filter(|o| o.l4_csum).count();
                got += out.len();
                tx.alloc().expect("buffers come back once the device sends")
            }
        };
        tx.buffer(&s)[..f.len()].copy_from_slice(&f);
        tx.submit(s, f.len(), off);
        sent.push((f, off));
        if rng.next().is_multiple_of(4) {
            tx.flush();
        }
        if rng.next().is_multiple_of(8) {
            let out = model.take_tx();
            check(&out, &sent[got..got + out.len()]);
            by_device += out.iter().filter(|o| o.l4_csum).count();
            got += out.len();
        }
    }
    tx.flush();
    let out = model.take_tx();
    check(&out, &sent[got..]);
    by_device += out.iter().filter(|o| o.l4_csum).count();
    // Every frame was checksummed exactly once, by the device or by the driver.
    assert_eq!(by_device as u64 + tx.software_checksums(), 3000);
    assert!(by_device > 0 && tx.software_checksums() > 0);
    assert_eq!(model.faults(), 0);
    assert_eq!(tx.counters().snapshot().errors, 0);
}
