//! Soft-queue benchmark: the extra cost per packet of serving every core from one hardware
//! queue pair through `corenet_net::soft`, against the same core driving the queue directly.
//!
//! ```text
//! cargo build --release -p corenet-net --example soft_bench
//! target/release/examples/soft_bench <soft|soft-hold|direct> <cores> <frame_len> <rounds>
//! valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*measured_step*' \
//!     target/release/examples/soft_bench soft 4 64 2000
//! ```
//!
//! Each round receives a burst of 32 TCP frames (spread over the cores by their 4-tuples)
//! and transmits 32 frames of the same length. `direct`: one core harvests the burst from
//! the hardware queue, reads each frame in place and releases it, then builds and submits 32
//! frames and flushes. `soft`: the distributor pumps the hardware queue, every core does the
//! same reading and building on its soft queue pair, and the next round's pump moves the
//! frames out (one pump per loop iteration, as on the owning core). `soft-hold`: `soft` with
//! the distributor's hold on, as the guest runs it.
//! The hardware queues are minimal in-memory fakes; only `measured_step` is counted, so
//! (Ir(soft) - Ir(direct)) / 64 is what the soft queues add per frame.

use std::hint::black_box;

use corenet_net::soft::{Distributor, SoftRx, SoftTx, soft_queues};
use corenet_nic::steering::RssConfig;
use corenet_nic::{Offload, QueueCounters, RxFrame, RxQueue, TxQueue, TxSlot};

const BURST: usize = 32;

/// Hands out the same prebuilt frames over and over.
struct HwRx {
    frames: Vec<Vec<u8>>,
    next: usize,
    /// Frames still to arrive.
    remaining: usize,
    counters: QueueCounters,
}

impl RxQueue for HwRx {
    fn queue_index(&self) -> u16 {
        0
    }
    fn rx_burst(&mut self, out: &mut [RxFrame]) -> usize {
        let n = out.len().min(BURST).min(self.remaining);
        self.remaining -= n;
        for f in &mut out[..n] {
            *f = RxFrame {
                slot: self.next as u16,
                len: self.frames[self.next].len() as u16,
                rss_hash: None,
                csum_ok: false,
            };
            self.next = (self.next + 1) % self.frames.len();
        }
        n
    }
    fn frame(&self, frame: &RxFrame) -> &[u8] {
        self.frames.get(usize::from(frame.slot)).map_or(&[], |f| f)
    }
    fn release(&mut self, _frame: RxFrame) {}
    fn counters(&self) -> &QueueCounters {
        &self.counters
    }
}

/// Fixed buffers, completed at each flush.
struct HwTx {
    bufs: Vec<Vec<u8>>,
    free: Vec<u16>,
    pending: Vec<u16>,
    sent: u64,
    counters: QueueCounters,
}

impl TxQueue for HwTx {
    fn queue_index(&self) -> u16 {
        0
    }
    fn alloc(&mut self) -> Option<TxSlot> {
        self.free.pop().map(|slot| TxSlot { slot })
    }
    fn buffer(&mut self, slot: &TxSlot) -> &mut [u8] {
        &mut self.bufs[usize::from(slot.slot)]
    }
    fn submit(&mut self, slot: TxSlot, _len: usize, _offload: Offload) {
        self.pending.push(slot.slot);
    }
    fn cancel(&mut self, slot: TxSlot) {
        self.free.push(slot.slot);
    }
    fn flush(&mut self) {
        self.sent += self.pending.len() as u64;
        self.free.append(&mut self.pending);
    }
    fn counters(&self) -> &QueueCounters {
        &self.counters
    }
}

fn frames(len: usize) -> Vec<Vec<u8>> {
    (0..256u16)
        .map(|i| {
            let mut f = vec![0u8; len.max(54)];
            f[12..14].copy_from_slice(&[0x08, 0x00]);
            f[14] = 0x45;
            f[23] = 6;
            f[26..30].copy_from_slice(&[10, 0, 0, 1]);
            f[30..34].copy_from_slice(&[10, 0, 0, 2]);
            f[34..36].copy_from_slice(&(20_000 + i * 7).to_be_bytes());
            f[36..38].copy_from_slice(&80u16.to_be_bytes());
            f
        })
        .collect()
}

/// What a stack does with a frame in place: look at it.
fn consume(bytes: &[u8]) -> u64 {
    u64::from(bytes[bytes.len() - 1]) + bytes.len() as u64
}

/// What a stack does to build a frame: write it.
fn build<T: TxQueue>(tx: &mut T, len: usize, seed: u8) -> bool {
    let Some(slot) = tx.alloc() else { return false };
    let b = tx.buffer(&slot);
    b[..len].fill(seed);
    tx.submit(slot, len, Offload::default());
    true
}

#[inline(never)]
fn measured_step_direct(rx: &mut HwRx, tx: &mut HwTx, len: usize) -> u64 {
    let mut burst = [RxFrame::default(); BURST];
    let n = rx.rx_burst(&mut burst);
    let mut sum = 0;
    for f in &burst[..n] {
        sum += consume(rx.frame(f));
        rx.release(*f);
    }
    for i in 0..BURST {
        build(tx, len, i as u8);
    }
    tx.flush();
    sum
}

#[inline(never)]
fn measured_step_soft(
    dist: &mut Distributor,
    pairs: &mut [(SoftRx, SoftTx)],
    hw: &mut (HwRx, HwTx),
    len: usize,
) -> u64 {
    // Receives this round's burst and transmits what the cores built in the previous one,
    // as the owning core's loop does: one pump per iteration.
    let (hw_rx, hw_tx) = hw;
    dist.pump(hw_rx, hw_tx, BURST);
    let mut sum = 0;
    let mut burst = [RxFrame::default(); BURST];
    let cores = pairs.len();
    for (q, (rx, tx)) in pairs.iter_mut().enumerate() {
        let n = rx.rx_burst(&mut burst);
        for f in &burst[..n] {
            sum += consume(rx.frame(f));
            rx.release(*f);
        }
        // The 32 frames out are spread over the cores as the 32 frames in were.
        for i in 0..(BURST + cores - 1 - q) / cores {
            build(tx, len, i as u8);
        }
        tx.flush();
    }
    sum
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "soft_bench <soft|soft-hold|direct> <cores> <frame_len> <rounds>";
    let kind = args.get(1).expect(usage).clone();
    let cores: usize = args.get(2).and_then(|a| a.parse().ok()).expect(usage);
    let len: usize = args.get(3).and_then(|a| a.parse().ok()).expect(usage);
    let rounds: usize = args.get(4).and_then(|a| a.parse().ok()).expect(usage);
    assert!((54..=1514).contains(&len), "frame_len in 54..=1514");
    let mut hw = (
        HwRx {
            frames: frames(len),
            next: 0,
            remaining: BURST * rounds,
            counters: QueueCounters::new(),
        },
        HwTx {
            bufs: (0..256).map(|_| vec![0; 2048]).collect(),
            free: (0..256).collect(),
            pending: Vec::new(),
            sent: 0,
            counters: QueueCounters::new(),
        },
    );
    let mut sum = 0;
    match kind.as_str() {
        "direct" => {
            for _ in 0..rounds {
                sum += measured_step_direct(&mut hw.0, &mut hw.1, len);
            }
        }
        "soft" | "soft-hold" => {
            let rss = RssConfig::new(cores).expect("1..=128 cores");
            let (mut dist, mut pairs) = soft_queues(&rss, 256).expect("depth");
            if kind == "soft-hold" {
                // As the guest runs it (the rings never fill here, so it never holds: this
                // is the check's cost).
                dist.set_hold(20_000_000, || 0);
            }
            for _ in 0..rounds {
                sum += measured_step_soft(&mut dist, &mut pairs, &mut hw, len);
            }
            // The last round's frames (outside the measurement).
            dist.pump(&mut hw.0, &mut hw.1, BURST);
            let c = dist.counters();
            assert_eq!(c.drop_ring_full.get() + c.drop_too_large.get(), 0);
            let per_core: Vec<u64> = pairs
                .iter()
                .map(|(rx, _)| rx.counters().packets.get())
                .collect();
            println!("frames received per core: {per_core:?}");
        }
        _ => panic!("{usage}"),
    }
    let frames = 2 * BURST as u64 * rounds as u64;
    assert_eq!(hw.1.sent, BURST as u64 * rounds as u64, "every frame sent");
    println!(
        "{kind}: {frames} frames (in + out) in measured_step, checksum {}",
        black_box(sum)
    );
}
