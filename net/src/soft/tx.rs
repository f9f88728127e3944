//! The transmit half of a software queue: frames this core sends, for the distributor.

use alloc::vec::Vec;

use corenet_nic::{Offload, QueueCounters, TxQueue, TxSlot};
use heapless::spsc::{Consumer, Producer};

use super::{Buf, FRAME_MAX, Outgoing};

/// One core's transmit queue, drained by the [`Distributor`](super::Distributor) into the
/// hardware queue.
///
/// Frames are built in place in pool buffers; [`flush`](TxQueue::flush) publishes
/// everything submitted since the last flush to the distributor's ring at once. When every
/// buffer is in flight (the distributor has not drained this core, or the hardware queue is
/// full), [`alloc`](TxQueue::alloc) returns `None`, as a full hardware ring would.
pub struct SoftTx {
    core: u16,
    to_hw: Producer<'static, Outgoing>,
    free: Consumer<'static, Buf>,
    /// Free buffers already taken from the ring (refilled in batches).
    stash: Vec<Buf>,
    /// Buffers handed out by `alloc`, by slot.
    slots: Vec<Option<Buf>>,
    free_slots: Vec<u16>,
    /// Submitted, not yet flushed.
    pending: Vec<Outgoing>,
    counters: QueueCounters,
    /// Wakes the distributor's core after a flush, and which core that is.
    wake: (crate::WakeFn, usize),
}

impl SoftTx {
    pub(super) fn new(
        core: u16,
        to_hw: Producer<'static, Outgoing>,
        free: Consumer<'static, Buf>,
        depth: usize,
    ) -> Self {
        Self {
            core,
            to_hw,
            free,
            stash: Vec::with_capacity(depth),
            slots: (0..depth).map(|_| None).collect(),
            // Slot ids fit u16: depth <= MAX_DEPTH.
            free_slots: (0..depth as u16).rev().collect(),
            pending: Vec::with_capacity(depth),
            counters: QueueCounters::new(),
            wake: (crate::no_wake, 0),
        }
    }

    /// Sets how the core running the distributor (`core`) is woken after a flush.
    pub fn set_wake(&mut self, wake: crate::WakeFn, core: usize) {
        self.wake = (wake, core);
    }

    fn take_buf(&mut self) -> Option<Buf> {
        if self.stash.is_empty() {
            while let Some(b) = self.free.dequeue() {
                self.stash.push(b);
            }
        }
        self.stash.pop()
    }

    fn give_back(&mut self, slot: u16) -> Option<Buf> {
        let buf = self
            .slots
            .get_mut(usize::from(slot))
            .and_then(Option::take)?;
        self.free_slots.push(slot);
        Some(buf)
    }
}

impl TxQueue for SoftTx {
    fn queue_index(&self) -> u16 {
        self.core
    }

    fn alloc(&mut self) -> Option<TxSlot> {
        let &slot = self.free_slots.last()?;
        let buf = self.take_buf()?;
        self.free_slots.pop();
        self.slots[usize::from(slot)] = Some(buf);
        Some(TxSlot { slot })
    }

    fn buffer(&mut self, slot: &TxSlot) -> &mut [u8] {
        match self.slots.get_mut(usize::from(slot.slot)) {
            Some(Some(b)) => &mut b[..],
            _ => &mut [],
        }
    }

    fn submit(&mut self, slot: TxSlot, len: usize, _offload: Offload) {
        let Some(buf) = self.give_back(slot.slot) else {
            self.counters.errors.inc();
            return;
        };
        if len > FRAME_MAX {
            self.counters.errors.inc();
            self.stash.push(buf);
            return;
        }
        self.pending.push(Outgoing {
            buf,
            len: len as u16,
        });
    }

    fn cancel(&mut self, slot: TxSlot) {
        if let Some(buf) = self.give_back(slot.slot) {
            self.stash.push(buf);
        }
    }

    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        for out in self.pending.drain(..) {
            let len = u64::from(out.len);
            // Cannot fail (the ring holds the whole pool); counted if it ever did.
            if self.to_hw.enqueue(out).is_err() {
                self.counters.drops.inc();
                continue;
            }
            self.counters.packets.inc();
            self.counters.bytes.add(len);
        }
        self.counters.doorbells.inc();
        (self.wake.0)(self.wake.1);
    }

    fn counters(&self) -> &QueueCounters {
        &self.counters
    }
}
