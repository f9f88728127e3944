//! The virtio-net driver against a hostile fake device: used-ring entries with any id and
//! length, ids taken and never returned, used-index jumps, merged-buffer counts, forged
//! tokens from the caller. No panic; no receive buffer handed out twice; every delivered
//! frame inside its buffer; and when the device only ever completes what it took, no buffer
//! is lost: once the device gives everything back, every buffer is posted again.
//!
//! Input: one byte choosing the queue size, then operations.

use std::collections::HashSet;

use arbitrary::Unstructured;
use corenet_nic::{Offload, RssConfig, RxFrame, RxQueue, TxQueue, TxSlot};
use corenet_virtio::fake::{DeviceSpec, FakeDma, FakeNotify, FakeTransport};
use corenet_virtio::{BUF_SIZE, NetConfig, VirtioNet};

/// The virtio-net header with the hash report (negotiated by the default fake device).
const HDR: usize = 20;
const RXQ: u16 = 0;
const TXQ: u16 = 1;

fn hdr(flags: u8, num_buffers: u16) -> [u8; HDR] {
    let mut h = [0u8; HDR];
    h[0] = flags;
    h[10..12].copy_from_slice(&num_buffers.to_le_bytes());
    h
}

/// Most operations per input: keeps one run short.
const MAX_OPS: usize = 2000;

/// The harness.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(sel) = u.arbitrary::<u8>() else { return };
    let qsize: u16 = [8, 16, 32, 256, 1024][usize::from(sel % 5)];
    let spec = DeviceSpec {
        queue_max: qsize,
        max_pairs: 1,
        ..DeviceSpec::default()
    };
    let Ok(rss) = RssConfig::new(1) else { return };
    let mut cfg = NetConfig::new(rss);
    cfg.spins = 1000;
    let (t, dev) = FakeTransport::new_pair(spec);
    let mut dma = FakeDma::default();
    let Ok((_net, pairs)) = VirtioNet::new(t, FakeNotify::default(), &mut dma, &cfg) else {
        panic!("bring-up against the default fake device failed");
    };
    let Some(mut p) = pairs.into_iter().next() else {
        return;
    };
    let qsize = usize::from(dev.queue_size(RXQ));

    let mut held: Vec<RxFrame> = Vec::new();
    let mut tx_held: Vec<TxSlot> = Vec::new();
    // Ids the device took from the available ring and has not completed.
    let mut taken: HashSet<u32> = HashSet::new();
    // The device completed something it never took, or jumped its index: from then on the
    // driver cannot know which buffers are really its, and only safety is checked.
    let mut lied = false;
    let mut out = [RxFrame::default(); 32];

    // An exhausted input yields zeros forever: stop at its end.
    for _ in 0..MAX_OPS {
        if u.is_empty() {
            break;
        }
        let op = u.arbitrary::<u8>().unwrap_or(0);
        match op % 10 {
            0 => {
                let len = usize::from(u.arbitrary::<u16>().unwrap_or(64)) % (BUF_SIZE - HDR + 1);
                let frame = vec![op; len];
                let nb = if u.ratio(1, 8).unwrap_or(false) {
                    u.arbitrary().unwrap_or(0)
                } else {
                    1
                };
                dev.rx_deliver(RXQ, &hdr(u.arbitrary().unwrap_or(0), nb), &[&frame]);
            }
            1 => {
                if let Some(id) = dev.take_avail(RXQ) {
                    taken.insert(u32::from(id));
                }
            }
            2 => {
                let id = if u.arbitrary::<bool>().unwrap_or(true) {
                    u32::from(u.arbitrary::<u8>().unwrap_or(0)) % (qsize as u32 + 4)
                } else {
                    u.arbitrary().unwrap_or(0)
                };
                let len = u.arbitrary::<u32>().unwrap_or(0) % (BUF_SIZE as u32 + 64);
                lied |= !taken.remove(&id);
                dev.push_used_raw(RXQ, id, len);
            }
            3 => {
                let q = if u.arbitrary::<bool>().unwrap_or(true) {
                    RXQ
                } else {
                    TXQ
                };
                let jump = u.arbitrary::<u16>().unwrap_or(1);
                dev.set_used_idx(q, dev.used_idx(q).wrapping_add(jump));
                lied = true;
            }
            4 => {
                let max = 1 + usize::from(u.arbitrary::<u8>().unwrap_or(31)) % out.len();
                let n = p.rx.rx_burst(&mut out[..max]);
                for f in &out[..n] {
                    assert!(
                        !held.iter().any(|h| h.slot == f.slot),
                        "buffer {} handed out twice",
                        f.slot
                    );
                    assert_eq!(p.rx.frame(f).len(), usize::from(f.len));
                    assert!(usize::from(f.len) + HDR <= BUF_SIZE);
                    held.push(*f);
                }
                assert!(held.len() <= qsize);
            }
            5 => {
                let n = usize::from(u.arbitrary::<u8>().unwrap_or(0));
                for _ in 0..n.min(held.len()) {
                    let i = usize::from(u.arbitrary::<u8>().unwrap_or(0)) % held.len();
                    p.rx.release(held.swap_remove(i));
                }
            }
            6 => {
                // A caller's forged token: refused unless it is exactly a frame it holds.
                let slot = u.arbitrary::<u16>().unwrap_or(0);
                let forged = RxFrame {
                    slot,
                    len: 60,
                    ..RxFrame::default()
                };
                if !held.iter().any(|h| h.slot == slot) {
                    assert!(
                        p.rx.frame(&forged).is_empty(),
                        "forged rx slot {slot} accepted"
                    );
                    p.rx.release(forged);
                }
            }
            7 => {
                if let Some(s) = p.tx.alloc() {
                    assert!(!tx_held.iter().any(|h| h.slot == s.slot), "tx slot twice");
                    tx_held.push(s);
                }
                if !tx_held.is_empty() && u.arbitrary::<bool>().unwrap_or(true) {
                    let s = tx_held.swap_remove(0);
                    let len = usize::from(u.arbitrary::<u16>().unwrap_or(60)) % 2100;
                    p.tx.submit(s, len, Offload::default());
                }
                p.tx.flush();
            }
            8 => {
                if u.arbitrary::<bool>().unwrap_or(true) {
                    dev.tx_complete_count(TXQ);
                } else {
                    let id = u32::from(u.arbitrary::<u16>().unwrap_or(0)) % (qsize as u32 + 4);
                    dev.push_used_raw(TXQ, id, u.arbitrary().unwrap_or(0));
                }
                p.tx.reclaim();
            }
            _ => {
                let slot = u.arbitrary::<u16>().unwrap_or(0);
                if !tx_held.iter().any(|h| h.slot == slot) {
                    let forged = TxSlot { slot };
                    assert!(
                        p.tx.buffer(&forged).is_empty(),
                        "forged tx slot {slot} accepted"
                    );
                    p.tx.submit(forged, 60, Offload::default());
                }
            }
        }
        assert!(p.tx.in_flight() <= qsize);
    }

    // The device gives back everything it took; the caller releases everything it holds.
    for h in held.drain(..) {
        p.rx.release(h);
    }
    for id in taken.drain() {
        dev.push_used_raw(RXQ, id, (HDR + 64) as u32);
    }
    for _ in 0..=qsize {
        let n = p.rx.rx_burst(&mut out);
        if n == 0 {
            break;
        }
        for f in &out[..n] {
            p.rx.release(*f);
        }
    }
    p.rx.rx_burst(&mut out[..0]);
    if !lied {
        assert_eq!(
            usize::from(dev.avail_pending(RXQ)),
            qsize,
            "receive buffers lost"
        );
    }
}
