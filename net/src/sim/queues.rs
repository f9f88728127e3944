//! The per-core queue pair of the simulated NIC, implementing `corenet_nic`'s traits.

use alloc::rc::Rc;
use alloc::vec;
use alloc::vec::Vec;
use core::cell::RefCell;

use corenet_nic::{Offload, QueueCounters, RxFrame, RxQueue, TxQueue, TxSlot};

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
    pending: Vec<(u16, usize)>,
    counters: QueueCounters,
}

impl SimTxQueue {
    pub(super) fn new(wire: Rc<RefCell<Wire>>, q: u16) -> Self {
        Self {
            wire,
            q,
            bufs: (0..RING).map(|_| vec![0; BUF_LEN]).collect(),
            free: (0..RING as u16).rev().collect(),
            pending: Vec::new(),
            counters: QueueCounters::new(),
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
        self.bufs
            .get_mut(usize::from(slot.slot))
            .map_or(&mut [], |b| &mut b[..])
    }

    fn submit(&mut self, slot: TxSlot, len: usize, _offload: Offload) {
        if len > BUF_LEN {
            self.counters.errors.inc();
            self.free.push(slot.slot);
            return;
        }
        self.pending.push((slot.slot, len));
    }

    fn cancel(&mut self, slot: TxSlot) {
        self.free.push(slot.slot);
    }

    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let mut w = self.wire.borrow_mut();
        for (slot, len) in self.pending.drain(..) {
            let frame = self.bufs[usize::from(slot)][..len].to_vec();
            self.counters.packets.inc();
            self.counters.bytes.add(len as u64);
            w.sent_by_host(frame);
            self.free.push(slot);
        }
        self.counters.doorbells.inc();
    }

    fn counters(&self) -> &QueueCounters {
        &self.counters
    }
}
