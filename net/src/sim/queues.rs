//! The per-core queue pair of the simulated NIC, implementing `corenet_nic`'s traits.

use alloc::rc::Rc;
use alloc::vec;
use alloc::vec::Vec;
use core::cell::RefCell;

use corenet_nic::{Offload, QueueCounters, RxFrame, RxQueue, TxQueue, TxSlot};

use super::offload::{self, TSO_BUFS, TSO_MAX_FRAME};
use super::{BUF_LEN, RING, Wire};

/// RX half of one simulated queue.
pub struct SimRxQueue {
    wire: Rc<RefCell<Wire>>,
    q: u16,
    slots: Vec<Option<Vec<u8>>>,
    free: Vec<u16>,
    counters: QueueCounters,
}

impl SimRxQueue {
    pub(super) fn new(wire: Rc<RefCell<Wire>>, q: u16) -> Self {
        Self {
            wire,
            q,
            slots: (0..RING).map(|_| None).collect(),
            free: (0..RING as u16).rev().collect(),
            counters: QueueCounters::new(),
        }
    }
}

impl RxQueue for SimRxQueue {
    fn queue_index(&self) -> u16 {
        self.q
    }

    fn rx_burst(&mut self, out: &mut [RxFrame]) -> usize {
        let mut w = self.wire.borrow_mut();
        let Some(backlog) = w.to_host.get_mut(usize::from(self.q)) else {
            return 0;
        };
        let mut n = 0;
        while n < out.len() {
            let Some(slot) = self.free.last().copied() else {
                break;
            };
            let Some(frame) = backlog.pop_front() else {
                break;
            };
            self.free.pop();
            self.counters.packets.inc();
            self.counters.bytes.add(frame.len() as u64);
            out[n] = RxFrame {
                slot,
                len: frame.len() as u16,
                rss_hash: None,
                csum_ok: false,
            };
            self.slots[usize::from(slot)] = Some(frame);
            n += 1;
        }
        n
    }

    fn frame(&self, frame: &RxFrame) -> &[u8] {
        match self.slots.get(usize::from(frame.slot)) {
            Some(Some(b)) => &b[..usize::from(frame.len).min(b.len())],
            _ => &[],
        }
    }

    fn release(&mut self, frame: RxFrame) {
        if let Some(s) = self.slots.get_mut(usize::from(frame.slot))
            && s.take().is_some()
        {
            self.free.push(frame.slot);
        }
    }

    fn counters(&self) -> &QueueCounters {
        &self.counters
    }
}

/// TX half of one simulated queue.
pub struct SimTxQueue {
    wire: Rc<RefCell<Wire>>,
    q: u16,
    bufs: Vec<Vec<u8>>,
    free: Vec<u16>,
    /// Large buffers (ids `RING..`) when the wire offers TSO, and the free ones.
    big: Vec<Vec<u8>>,
    big_free: Vec<u16>,
    pending: Vec<(u16, usize, Offload)>,
    counters: QueueCounters,
}

impl SimTxQueue {
    pub(super) fn new(wire: Rc<RefCell<Wire>>, q: u16) -> Self {
        let tso = wire.borrow().offload.tso;
        let nbig = if tso { TSO_BUFS } else { 0 };
        Self {
            wire,
            q,
            bufs: (0..RING).map(|_| vec![0; BUF_LEN]).collect(),
            free: (0..RING as u16).rev().collect(),
            big: (0..nbig).map(|_| vec![0; TSO_MAX_FRAME]).collect(),
            big_free: (RING..RING + nbig).map(|i| i as u16).collect(),
            pending: Vec::new(),
            counters: QueueCounters::new(),
        }
    }
}

impl SimTxQueue {
    fn give_back(&mut self, slot: u16) {
        if usize::from(slot) >= RING {
            self.big_free.push(slot);
        } else {
            self.free.push(slot);
        }
    }
}

impl TxQueue for SimTxQueue {
    fn queue_index(&self) -> u16 {
        self.q
    }

    fn alloc(&mut self) -> Option<TxSlot> {
        self.free.pop().map(|slot| TxSlot { slot })
    }

    fn buffer(&mut self, slot: &TxSlot) -> &mut [u8] {
        let i = usize::from(slot.slot);
        match i.checked_sub(RING) {
            None => self.bufs.get_mut(i),
            Some(b) => self.big.get_mut(b),
        }
        .map_or(&mut [], |b| &mut b[..])
    }

    fn submit(&mut self, slot: TxSlot, len: usize, offload: Offload) {
        if len > self.buffer(&slot).len() {
            self.counters.errors.inc();
            self.give_back(slot.slot);
            return;
        }
        self.pending.push((slot.slot, len, offload));
    }

    fn cancel(&mut self, slot: TxSlot) {
        self.give_back(slot.slot);
    }

    fn csum_offload(&self) -> bool {
        self.wire.borrow().offload.csum
    }

    fn tso_max_frame(&self) -> Option<usize> {
        (!self.big.is_empty()).then_some(TSO_MAX_FRAME)
    }

    fn alloc_large(&mut self) -> Option<TxSlot> {
        self.big_free.pop().map(|slot| TxSlot { slot })
    }

    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let wire = self.wire.clone();
        let mut w = wire.borrow_mut();
        let pending = core::mem::take(&mut self.pending);
        for (slot, len, offload) in pending {
            let i = usize::from(slot);
            let buf = match i.checked_sub(RING) {
                None => &self.bufs[i],
                Some(b) => &self.big[b],
            };
            self.counters.packets.inc();
            self.counters.bytes.add(len as u64);
            // The device's work: checksums completed, large frames cut. Without checksum
            // offload requests are ignored, as virtio does without CSUM.
            let frames = if w.offload.csum {
                offload::apply(&buf[..len], offload, &mut w.tso)
            } else {
                Some(alloc::vec![buf[..len].to_vec()])
            };
            for frame in frames.into_iter().flatten() {
                w.sent_by_host(frame);
            }
            self.give_back(slot);
        }
        self.counters.doorbells.inc();
    }

    fn counters(&self) -> &QueueCounters {
        &self.counters
    }
}
