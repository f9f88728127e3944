//! The receive half of a queue pair: pre-posted buffers, validated zero-copy burst receive.

use crate::buffers::{BUF_SIZE, Buffers};
use crate::ring::{DESC_F_WRITE, MAX_QUEUE_SIZE, Ring};
use corenet_nic::{QueueCounters, RxFrame, RxQueue};

/// Who holds a receive buffer.
const HELD_BY_DEVICE: u8 = 1;
const HELD_BY_STACK: u8 = 2;
/// Released by the stack (or dropped), waiting to be re-posted at the next burst.
const HELD_FOR_REPOST: u8 = 3;

/// `virtio_net_hdr.flags` (5.1.6): checksum left partial by a trusted local sender.
const HDR_F_NEEDS_CSUM: u8 = 1;
/// `virtio_net_hdr.flags` (5.1.6): the device validated the checksum.
const HDR_F_DATA_VALID: u8 = 2;

/// A virtio-net receive queue (`receiveq`), owned by one core.
#[derive(Debug)]
pub struct VirtioRx {
    ring: Ring,
    bufs: Buffers,
    hdr_len: usize,
    hash_report: bool,
    guest_csum: bool,
    queue: u16,
    state: [u8; MAX_QUEUE_SIZE],
    repost: [u16; MAX_QUEUE_SIZE],
    n_repost: u16,
    counters: QueueCounters,
}

impl VirtioRx {
    /// Posts every buffer (publishing, without a doorbell: the device is not live yet).
    pub(crate) fn new(mut ring: Ring, bufs: Buffers, features: u64, queue: u16) -> Self {
        let size = ring.size();
        for id in 0..size {
            ring.write_desc(id, bufs.phys(id), BUF_SIZE as u32, DESC_F_WRITE, 0);
            ring.push_avail(id);
        }
        let mut state = [0; MAX_QUEUE_SIZE];
        state[..usize::from(size)].fill(HELD_BY_DEVICE);
        let mut rx = Self {
            ring,
            bufs,
            hdr_len: crate::features::header_len(features),
            hash_report: features & crate::features::HASH_REPORT != 0,
            guest_csum: features & crate::features::GUEST_CSUM != 0,
            queue,
            state,
            repost: [0; MAX_QUEUE_SIZE],
            n_repost: 0,
            counters: QueueCounters::new(),
        };
        rx.ring.publish();
        rx
    }

    /// Rings the doorbell once after DRIVER_OK for the buffers posted in `new`.
    pub(crate) fn start(&mut self) {
        self.ring.kick();
        self.counters.doorbells.inc();
    }

    fn drop_for_repost(&mut self, id: u16) {
        self.state[usize::from(id)] = HELD_FOR_REPOST;
        self.repost[usize::from(self.n_repost)] = id;
        self.n_repost += 1;
    }

    fn repost(&mut self) {
        if self.n_repost == 0 {
            return;
        }
        for i in 0..usize::from(self.n_repost) {
            let id = self.repost[i];
            self.state[usize::from(id)] = HELD_BY_DEVICE;
            self.ring.push_avail(id);
        }
        self.n_repost = 0;
        if self.ring.publish() {
            self.counters.doorbells.inc();
        }
    }

    /// Validates one used element; `Some(frame)` hands the buffer to the stack.
    #[inline]
    fn accept(&mut self, id: u32, len: u32) -> Option<RxFrame> {
        let size = u32::from(self.ring.size());
        if id >= size || self.state[id as usize] != HELD_BY_DEVICE {
            // Out of range or a duplicate: not ours to touch. Count and skip.
            self.counters.errors.inc();
            return None;
        }
        let id = id as u16;
        let len = len as usize;
        if len < self.hdr_len || len > BUF_SIZE {
            self.counters.errors.inc();
            self.drop_for_repost(id);
            return None;
        }
        let hdr = self.bufs.slice(id, 0, self.hdr_len);
        // num_buffers (5.1.6.4): we never negotiate MRG_RXBUF, so anything but 1 is bogus.
        let (flags, num_buffers) = match hdr {
            [f, _, _, _, _, _, _, _, _, _, n0, n1, ..] => (*f, u16::from_le_bytes([*n0, *n1])),
            _ => (0, 0),
        };
        if num_buffers != 1 {
            self.counters.errors.inc();
            self.drop_for_repost(id);
            return None;
        }
        let rss_hash = match hdr {
            [
                _,
                _,
                _,
                _,
                _,
                _,
                _,
                _,
                _,
                _,
                _,
                _,
                h0,
                h1,
                h2,
                h3,
                r0,
                r1,
                ..,
            ] if self.hash_report && u16::from_le_bytes([*r0, *r1]) != 0 => {
                Some(u32::from_le_bytes([*h0, *h1, *h2, *h3]))
            }
            _ => None,
        };
        self.state[usize::from(id)] = HELD_BY_STACK;
        Some(RxFrame {
            slot: id,
            len: (len - self.hdr_len) as u16,
            rss_hash,
            csum_ok: self.guest_csum && flags & (HDR_F_NEEDS_CSUM | HDR_F_DATA_VALID) != 0,
        })
    }
}

impl RxQueue for VirtioRx {
    fn queue_index(&self) -> u16 {
        self.queue
    }

    fn rx_burst(&mut self, out: &mut [RxFrame]) -> usize {
        self.repost();
        let pending = self.ring.used_pending();
        if pending > self.ring.size() {
            // An index jump: more completions than buffers exist. Harvest as usual; the id
            // checks reject every entry that is not a buffer the device really holds.
            self.counters.errors.inc();
        }
        let take = usize::from(pending)
            .min(out.len())
            .min(usize::from(self.ring.size()));
        let mut n = 0;
        let mut bytes = 0u64;
        for k in 0..take {
            let e = self.ring.used_elem(k as u16);
            if let Some(f) = self.accept(e.id, e.len) {
                bytes += u64::from(f.len);
                out[n] = f;
                n += 1;
            }
        }
        self.ring.consume(take as u16);
        if n > 0 {
            self.counters.packets.add(n as u64);
            self.counters.bytes.add(bytes);
        }
        n
    }

    fn frame(&self, frame: &RxFrame) -> &[u8] {
        match self.state.get(usize::from(frame.slot)) {
            Some(&HELD_BY_STACK) => {
                self.bufs
                    .slice(frame.slot, self.hdr_len, usize::from(frame.len))
            }
            _ => &[],
        }
    }

    fn release(&mut self, frame: RxFrame) {
        if self.state.get(usize::from(frame.slot)) == Some(&HELD_BY_STACK) {
            self.drop_for_repost(frame.slot);
        }
    }

    fn counters(&self) -> &QueueCounters {
        &self.counters
    }
}
