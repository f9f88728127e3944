//! The 82599 driver against its register-level model lying in write-backs: any descriptor
//! rewritten with any bits, corrupted lengths, error bits, missing EOP, TX head write-backs
//! anywhere. No panic; every delivered frame inside its buffer; and buffers are conserved on
//! both sides (posted + free + held = ring size; queued + free + allocated = ring size - 2).
//!
//! Input: one byte choosing the ring size, then operations.

use arbitrary::Unstructured;
use corenet_ixgbe::model::{Corruption, Model82599, ModelParams};
use corenet_ixgbe::rx::BUF_SIZE;
use corenet_ixgbe::{Config, Ixgbe};
use corenet_nic::{Offload, RssConfig, RxFrame, RxQueue, TxQueue, TxSlot};

use crate::netbuild::udp_frame;

/// Most operations per input: keeps one run short.
const MAX_OPS: usize = 2000;

/// The harness.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(sel) = u.arbitrary::<u8>() else { return };
    let ring: u16 = [8, 16, 32][usize::from(sel % 3)];
    let params = ModelParams::default();
    let mac = params.mac;
    let model = Model82599::new(params);
    let Ok(rss) = RssConfig::new(1) else { return };
    let mut cfg = Config::new(rss);
    cfg.rx_ring_size = ring;
    cfg.tx_ring_size = ring;
    let Ok((_dev, pairs)) = Ixgbe::init(
        model.clone(),
        &cfg,
        &mut model.allocator(),
        &mut model.delay(),
    ) else {
        panic!("bring-up against the model failed");
    };
    let Some(mut pair) = pairs.into_iter().next() else {
        return;
    };
    let ring = usize::from(ring);
    let mut held: Vec<RxFrame> = Vec::new();
    let mut allocated: Vec<TxSlot> = Vec::new();

    // An exhausted input yields zeros forever: stop at its end.
    for _ in 0..MAX_OPS {
        if u.is_empty() {
            break;
        }
        let op = u.arbitrary::<u8>().unwrap_or(0);
        match op % 8 {
            0 => {
                let n = usize::from(u.arbitrary::<u16>().unwrap_or(0)) % 1473;
                let f = udp_frame(
                    (mac, [2, 0, 0, 0, 0, 1]),
                    ([10, 0, 0, 1], [10, 0, 0, 2]),
                    (1000 + u16::from(op), 7),
                    &vec![op; n],
                );
                model.inject(&f);
            }
            1 => {
                let c = match u.arbitrary::<u8>().unwrap_or(0) % 4 {
                    0 => Corruption::LenZero,
                    1 => Corruption::Len(u.arbitrary().unwrap_or(0)),
                    2 => Corruption::Errors(u.arbitrary::<u32>().unwrap_or(0) & 0xFFF0_0000),
                    _ => Corruption::NoEop,
                };
                model.with(|d| d.corrupt_next_rx(c));
                let f = udp_frame(
                    (mac, [2, 0, 0, 0, 0, 1]),
                    ([10, 0, 0, 1], [10, 0, 0, 2]),
                    (1, 7),
                    &[0; 64],
                );
                model.inject(&f);
            }
            2 => {
                let idx = u.arbitrary::<u16>().unwrap_or(0) % ring as u16;
                let dw: [u32; 4] = u.arbitrary().unwrap_or([0; 4]);
                model.with(|d| d.write_rx_desc(0, idx, dw));
            }
            3 => {
                let v = if u.arbitrary::<bool>().unwrap_or(true) {
                    u32::from(u.arbitrary::<u8>().unwrap_or(0)) % ring as u32
                } else {
                    u.arbitrary().unwrap_or(0)
                };
                model.with(|d| d.write_tx_head_wb(0, v));
            }
            4 => {
                let mut frames = [RxFrame::default(); 32];
                let max = 1 + usize::from(u.arbitrary::<u8>().unwrap_or(31)) % frames.len();
                let n = pair.rx.rx_burst(&mut frames[..max]);
                for f in &frames[..n] {
                    assert!(usize::from(f.len) <= BUF_SIZE && f.len > 0);
                    assert_eq!(pair.rx.frame(f).len(), usize::from(f.len));
                    assert!(
                        !held.iter().any(|h| h.slot == f.slot),
                        "buffer handed out twice"
                    );
                    held.push(*f);
                }
            }
            5 => {
                let n = usize::from(u.arbitrary::<u8>().unwrap_or(0));
                for _ in 0..n.min(held.len()) {
                    let i = usize::from(u.arbitrary::<u8>().unwrap_or(0)) % held.len();
                    pair.rx.release(held.swap_remove(i));
                }
            }
            6 => {
                if let Some(s) = pair.tx.alloc() {
                    assert!(!allocated.iter().any(|a| a.slot == s.slot), "tx slot twice");
                    allocated.push(s);
                }
                if !allocated.is_empty() && u.arbitrary::<bool>().unwrap_or(true) {
                    let s = allocated.swap_remove(0);
                    let l4_csum = match u.arbitrary::<u8>().unwrap_or(0) % 4 {
                        0 => None,
                        1 => Some((34, 16)),
                        2 => Some((34, 40)),
                        _ => Some((u.arbitrary().unwrap_or(0), u.arbitrary().unwrap_or(0))),
                    };
                    let len = usize::from(u.arbitrary::<u16>().unwrap_or(60)) % 2100;
                    pair.tx.submit(s, len, Offload { l4_csum, tso: None });
                }
            }
            _ => {
                pair.tx.flush();
                model.advance(u32::from(u.arbitrary::<u8>().unwrap_or(10)));
                model.take_tx();
            }
        }
        let (posted, free, h) = pair.rx.accounting();
        assert_eq!(posted + free + h, ring, "rx buffers not conserved");
        assert_eq!(h, held.len());
        let (queued, free, a) = pair.tx.accounting();
        assert_eq!(queued + free + a, ring - 2, "tx buffers not conserved");
        assert_eq!(a, allocated.len());
    }
}
