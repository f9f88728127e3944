//! The transmit half of a queue pair: zero-copy buffers, one doorbell per flush, batched reclaim.

use crate::buffers::{BUF_SIZE, Buffers};
use crate::ring::{MAX_QUEUE_SIZE, Ring};
use corenet_nic::{Offload, QueueCounters, TxQueue, TxSlot};

const FREE: u8 = 0;
const HELD_BY_STACK: u8 = 1;
const HELD_BY_DEVICE: u8 = 2;

/// `virtio_net_hdr.flags`: the device must complete the checksum (5.1.6.2).
const HDR_F_NEEDS_CSUM: u8 = 1;

/// Index into the per-id arrays; the mask is a no-op on validated ids (and on `n_free`, which
/// never exceeds the queue size) and lets the compiler drop the bounds check.
#[inline]
fn idx(id: u16) -> usize {
    usize::from(id) & (MAX_QUEUE_SIZE - 1)
}

/// A virtio-net transmit queue (`transmitq`), owned by one core.
#[derive(Debug)]
pub struct VirtioTx {
    ring: Ring,
    bufs: Buffers,
    hdr_len: usize,
    csum: bool,
    queue: u16,
    state: [u8; MAX_QUEUE_SIZE],
    free: [u16; MAX_QUEUE_SIZE],
    n_free: u16,
    unflushed_packets: u64,
    unflushed_bytes: u64,
    counters: QueueCounters,
}

impl VirtioTx {
    pub(crate) fn new(mut ring: Ring, bufs: Buffers, features: u64, queue: u16) -> Self {
        let size = ring.size();
        let mut free = [0; MAX_QUEUE_SIZE];
        for id in 0..size {
            ring.write_desc(id, bufs.phys(id), 0, 0, 0);
            // Hand out low ids first (pop from the end).
            free[usize::from(id)] = size - 1 - id;
        }
        Self {
            ring,
            bufs,
            hdr_len: crate::features::header_len(features),
            csum: features & crate::features::CSUM != 0,
            queue,
            state: [FREE; MAX_QUEUE_SIZE],
            free,
            n_free: size,
            unflushed_packets: 0,
            unflushed_bytes: 0,
            counters: QueueCounters::new(),
        }
    }

    /// Takes back every buffer the device has finished with; returns how many.
    pub fn reclaim(&mut self) -> usize {
        let pending = self.ring.used_pending();
        if pending > self.ring.size() {
            self.counters.errors.inc();
        }
        let take = pending.min(self.ring.size());
        let mut n = 0;
        for k in 0..take {
            let id = self.ring.used_id(k);
            // The used `len` of a TX buffer carries no information (5.1.6.2): ignored.
            if id < u32::from(self.ring.size()) && self.state[idx(id as u16)] == HELD_BY_DEVICE {
                self.state[idx(id as u16)] = FREE;
                self.free[idx(self.n_free)] = id as u16;
                self.n_free += 1;
                n += 1;
            } else {
                self.counters.errors.inc();
            }
        }
        self.ring.consume(take);
        n
    }

    /// Frames in the device's hands.
    pub fn in_flight(&self) -> usize {
        self.state.iter().filter(|&&s| s == HELD_BY_DEVICE).count()
    }

    fn owned(&self, s: &TxSlot) -> bool {
        s.slot < self.ring.size() && self.state[idx(s.slot)] == HELD_BY_STACK
    }

    fn give_back(&mut self, id: u16) {
        self.state[idx(id)] = FREE;
        self.free[idx(self.n_free)] = id;
        self.n_free += 1;
    }
}

impl TxQueue for VirtioTx {
    fn queue_index(&self) -> u16 {
        self.queue
    }

    #[inline]
    fn alloc(&mut self) -> Option<TxSlot> {
        if self.n_free == 0 && self.reclaim() == 0 {
            return None;
        }
        self.n_free -= 1;
        let id = self.free[idx(self.n_free)];
        self.state[idx(id)] = HELD_BY_STACK;
        Some(TxSlot { slot: id })
    }

    fn buffer(&mut self, slot: &TxSlot) -> &mut [u8] {
        if !self.owned(slot) {
            return &mut [];
        }
        self.bufs
            .slice_mut(slot.slot, self.hdr_len, BUF_SIZE - self.hdr_len)
    }

    #[inline]
    fn submit(&mut self, slot: TxSlot, len: usize, offload: Offload) {
        if !self.owned(&slot) {
            self.counters.errors.inc();
            return;
        }
        let id = slot.slot;
        if len == 0 || len > BUF_SIZE - self.hdr_len {
            self.counters.errors.inc();
            self.give_back(id);
            return;
        }
        // virtio_net_hdr (5.1.6): all zero except the checksum request; num_buffers is 0 on TX.
        let (lo, hi) = match (self.csum, offload.l4_csum) {
            (true, Some((start, off))) => (
                u64::from(HDR_F_NEEDS_CSUM) | u64::from(start) << 48,
                u32::from(off),
            ),
            _ => (0, 0),
        };
        let hdr_len = self.hdr_len;
        self.bufs.write_hdr(id, lo, hi, hdr_len == 20);
        self.ring.set_desc_len(id, (hdr_len + len) as u32);
        self.ring.push_avail(id);
        self.state[idx(id)] = HELD_BY_DEVICE;
        // Counted at flush: one counter update per burst.
        self.unflushed_packets += 1;
        self.unflushed_bytes += len as u64;
    }

    fn cancel(&mut self, slot: TxSlot) {
        if self.owned(&slot) {
            self.give_back(slot.slot);
        }
    }

    fn flush(&mut self) {
        if self.unflushed_packets != 0 {
            self.counters.packets.add(self.unflushed_packets);
            self.counters.bytes.add(self.unflushed_bytes);
            self.unflushed_packets = 0;
            self.unflushed_bytes = 0;
        }
        if self.ring.publish() {
            self.counters.doorbells.inc();
        }
    }

    fn csum_offload(&self) -> bool {
        self.csum
    }

    fn counters(&self) -> &QueueCounters {
        &self.counters
    }
}
