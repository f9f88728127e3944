//! The receive half of a software queue: frames the distributor steered to this core.

use alloc::vec::Vec;

use corenet_nic::{QueueCounters, RxFrame, RxQueue};
use heapless::spsc::{Consumer, Producer};

use super::{Buf, Filled, Shared};

/// One core's receive queue, fed by the [`Distributor`](super::Distributor).
///
/// Frames are read in place in the pool buffer the distributor copied them into; released
/// buffers go back to the distributor at the next [`rx_burst`](RxQueue::rx_burst), in one
/// batch (the software "doorbell").
pub struct SoftRx {
    core: u16,
    filled: Consumer<'static, Filled>,
    free: Producer<'static, Buf>,
    /// Frames handed out by `rx_burst` and not yet released, by slot.
    held: Vec<Option<Filled>>,
    free_slots: Vec<u16>,
    /// Buffers released since the last burst.
    released: Vec<Buf>,
    shared: &'static Shared,
    counters: QueueCounters,
}

impl SoftRx {
    pub(super) fn new(
        core: u16,
        filled: Consumer<'static, Filled>,
        free: Producer<'static, Buf>,
        shared: &'static Shared,
        depth: usize,
    ) -> Self {
        Self {
            core,
            filled,
            free,
            held: (0..depth).map(|_| None).collect(),
            // Slot ids fit u16: depth <= MAX_DEPTH.
            free_slots: (0..depth as u16).rev().collect(),
            released: Vec::with_capacity(depth),
            shared,
            counters: QueueCounters::new(),
        }
    }

    /// Frames waiting in the ring (not yet harvested).
    pub fn pending(&self) -> usize {
        self.filled.len()
    }

    fn repost(&mut self) {
        if self.released.is_empty() {
            return;
        }
        for buf in self.released.drain(..) {
            // Cannot fail (the ring holds the whole pool); if it did, the buffer is freed
            // and the pool shrinks, which is counted, not fatal.
            if self.free.enqueue(buf).is_err() {
                self.counters.errors.inc();
            }
        }
        self.counters.doorbells.inc();
    }

    /// Mirrors the distributor's ring-full drops for this core into our own counter, so it
    /// reads like a NIC's per-queue drop count; each counter keeps a single writer.
    fn sync_drops(&self) {
        let seen = self.shared.rx_ring_full.get();
        let mine = self.counters.drops.get();
        if seen > mine {
            self.counters.drops.add(seen - mine);
        }
    }
}

impl RxQueue for SoftRx {
    fn queue_index(&self) -> u16 {
        self.core
    }

    fn rx_burst(&mut self, out: &mut [RxFrame]) -> usize {
        self.repost();
        self.sync_drops();
        let mut n = 0;
        while n < out.len() {
            let Some(&slot) = self.free_slots.last() else {
                break;
            };
            let Some(f) = self.filled.dequeue() else {
                break;
            };
            self.free_slots.pop();
            self.counters.packets.inc();
            self.counters.bytes.add(u64::from(f.len));
            out[n] = RxFrame {
                slot,
                len: f.len,
                rss_hash: f.rss_hash,
                csum_ok: f.csum_ok,
            };
            self.held[usize::from(slot)] = Some(f);
            n += 1;
        }
        n
    }

    fn frame(&self, frame: &RxFrame) -> &[u8] {
        match self.held.get(usize::from(frame.slot)) {
            Some(Some(f)) => f.buf.get(..usize::from(f.len)).unwrap_or(&[]),
            _ => &[],
        }
    }

    fn release(&mut self, frame: RxFrame) {
        if let Some(f) = self
            .held
            .get_mut(usize::from(frame.slot))
            .and_then(Option::take)
        {
            self.released.push(f.buf);
            self.free_slots.push(frame.slot);
        }
    }

    fn counters(&self) -> &QueueCounters {
        &self.counters
    }
}
