//! Instructions per packet of the driver's receive + transmit path, against the device model.
//!
//! Each round the model receives `batch` 60-byte UDP frames (`model_rx`), the driver harvests
//! them with one `rx_burst`, forwards each (touching one byte, like ixy's forwarder), releases
//! it, and flushes once (`driver_rx_tx`); then the model transmits them (`model_tx`). Under
//! callgrind, `--toggle-collect='*driver_rx_tx*'` counts only the driver's part; the model's
//! register handler (`Model82599::write32`, called for the RDT/TDT doorbells) runs inside it
//! and is subtracted by `bench.sh`. See docs/ixgbe.md.
//!
//! Usage: `ixgbe_bench BATCH ROUNDS [csum]`; with `csum` every frame asks for its UDP
//! checksum to be inserted by the device (transmit checksum offload).

use corenet_ixgbe::model::{Model82599, ModelParams, RxOutcome};
use corenet_ixgbe::{Config, Ixgbe, IxgbeRx, IxgbeTx};
use corenet_nic::{Offload, RssConfig, RxFrame, RxQueue, TxQueue};

type Rx = IxgbeRx<Model82599>;
type Tx = IxgbeTx<Model82599>;

#[inline(never)]
fn model_rx(model: &Model82599, frame: &[u8], batch: usize) {
    for _ in 0..batch {
        let r = model.inject(frame);
        assert_eq!(r, RxOutcome::Delivered { queue: 0 });
    }
}

#[inline(never)]
fn driver_rx_tx<const CSUM: bool>(rx: &mut Rx, tx: &mut Tx, frames: &mut [RxFrame]) -> usize {
    // UDP checksum from the L4 header (34) into its field (+6); a constant either way, as in
    // a stack that always (or never) offloads.
    let offload = Offload {
        l4_csum: CSUM.then_some((34, 6)),
        tso: None,
    };
    let n = rx.rx_burst(frames);
    for f in &frames[..n] {
        let first = rx.frame(f).first().copied().unwrap_or(0);
        if let Some(slot) = tx.alloc() {
            if let Some(b) = tx.buffer(&slot).first_mut() {
                *b = first;
            }
            tx.submit(slot, f.len as usize, offload);
        }
        rx.release(*f);
    }
    tx.flush();
    n
}

#[inline(never)]
fn model_tx(model: &Model82599) -> usize {
    model.take_tx().len()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let batch: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(32);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    assert!((1..=64).contains(&batch));
    let csum = args.next().as_deref() == Some("csum");

    let model = Model82599::new(ModelParams::default());
    let mut cfg = Config::new(RssConfig::new(1).expect("one queue"));
    cfg.rx_ring_size = 512;
    cfg.tx_ring_size = 512;
    let (_dev, mut pairs) = Ixgbe::init(
        model.clone(),
        &cfg,
        &mut model.allocator(),
        &mut model.delay(),
    )
    .expect("init against the model");
    let pair = &mut pairs[0];

    // 60 bytes: a minimum Ethernet frame without FCS (64 on the wire).
    let mut frame = vec![0u8; 60];
    frame[..6].copy_from_slice(&ModelParams::default().mac);
    frame[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
    frame[12..14].copy_from_slice(&[0x08, 0x00]);
    frame[14] = 0x45;
    frame[23] = 17;
    frame[26..30].copy_from_slice(&[10, 0, 0, 2]);
    frame[30..34].copy_from_slice(&[10, 0, 0, 1]);
    frame[34..38].copy_from_slice(&[0x0F, 0xA0, 0x00, 0x50]);

    let mut frames = vec![RxFrame::default(); batch];
    let (mut rxd, mut txd) = (0usize, 0usize);
    for _ in 0..rounds {
        model_rx(&model, &frame, batch);
        rxd += if csum {
            driver_rx_tx::<true>(&mut pair.rx, &mut pair.tx, &mut frames)
        } else {
            driver_rx_tx::<false>(&mut pair.rx, &mut pair.tx, &mut frames)
        };
        txd += model_tx(&model);
    }
    assert_eq!(rxd, batch * rounds);
    assert_eq!(txd, batch * rounds);
    assert_eq!(model.faults(), 0);
    assert_eq!(pair.tx.software_checksums(), 0);
    println!("batch {batch} rounds {rounds}: {rxd} received, {txd} transmitted");
}
