//! The rings under real concurrency: a distributor thread and one thread per core echoing
//! every frame, with small rings so they wrap, fill and drop many times.

extern crate std;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};
use std::vec::Vec;

use corenet_nic::{Offload, RxFrame, RxQueue, TxQueue};

use super::fake_hw::{FakeRx, FakeTx, tcp_frame};
use super::*;

const CORES: usize = 4;
const FRAMES: u32 = 40_000;

#[test]
fn every_frame_echoed_once_in_order_or_counted_as_dropped() {
    let rss = RssConfig::new(CORES).unwrap();
    let (mut dist, pairs) = soft_queues(&rss, 8).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = pairs
        .into_iter()
        .map(|(mut rx, mut tx)| {
            let stop = stop.clone();
            thread::spawn(move || {
                let mut burst = [RxFrame::default(); 8];
                let mut last: Option<u32> = None;
                let mut echoed = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let n = rx.rx_burst(&mut burst);
                    for f in &burst[..n] {
                        let bytes = rx.frame(f);
                        let tag = u32::from_be_bytes([bytes[54], bytes[55], bytes[56], bytes[57]]);
                        // The payload after the tag is a function of the tag: intact?
                        assert!(bytes[58..].iter().all(|&b| b == tag as u8), "torn frame");
                        assert!(last.is_none_or(|l| l < tag), "order: {last:?} then {tag}");
                        last = Some(tag);
                        // Spin until the distributor returns a transmit buffer.
                        let slot = loop {
                            if let Some(s) = tx.alloc() {
                                break s;
                            }
                            tx.flush();
                            thread::yield_now();
                        };
                        tx.buffer(&slot)[..bytes.len()].copy_from_slice(bytes);
                        tx.submit(slot, bytes.len(), Offload::default());
                        rx.release(*f);
                        echoed += 1;
                    }
                    tx.flush();
                    if n == 0 {
                        thread::yield_now();
                    }
                }
                // A last burst syncs the drop count; nothing is left to receive.
                assert_eq!(rx.rx_burst(&mut burst), 0);
                (rx.queue_index(), echoed, rx.counters().snapshot().drops)
            })
        })
        .collect();

    let mut hw_rx = FakeRx::new();
    let mut hw_tx = FakeTx::new(64, 2048, true);
    for tag in 0..FRAMES {
        let mut f = tcp_frame([10, 0, 0, 1], (tag % 5000) as u16 + 1024, 80, tag, 90);
        f[58..].fill(tag as u8);
        hw_rx.wire.push_back(f);
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "no progress");
        dist.pump(&mut hw_rx, &mut hw_tx, 32);
        let c = dist.counters();
        let done =
            c.rx_frames.get() == u64::from(FRAMES) && c.tx_frames.get() == c.rx_delivered.get();
        if done {
            break;
        }
        thread::yield_now();
    }
    stop.store(true, Ordering::Relaxed);
    let results: Vec<_> = workers.into_iter().map(|w| w.join().unwrap()).collect();

    let c = dist.counters();
    std::println!(
        "delivered {} dropped {}",
        c.rx_delivered.get(),
        c.drop_ring_full.get()
    );
    assert_eq!(
        c.rx_delivered.get() + c.drop_ring_full.get(),
        u64::from(FRAMES)
    );
    assert_eq!(hw_tx.sent.len() as u64, c.rx_delivered.get());
    let mut echoed_total = 0;
    for (q, echoed, drops) in results {
        echoed_total += echoed;
        assert_eq!(drops, dist.ring_full(usize::from(q)), "core {q}");
        assert!(echoed > 0, "core {q}");
    }
    assert_eq!(echoed_total, c.rx_delivered.get());
    // What came out is what went in, byte for byte.
    for f in &hw_tx.sent {
        let tag = u32::from_be_bytes([f[54], f[55], f[56], f[57]]);
        assert_eq!(f.len(), 90);
        assert!(f[58..].iter().all(|&b| b == tag as u8));
    }
}
