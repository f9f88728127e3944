//! The transmit half of a queue pair: zero-copy buffers, one doorbell per flush, completions
//! handed out straight from the used ring.

use crate::big::{BigBuffers, TSO_BUFS, TSO_MAX_FRAME};
use crate::buffers::Buffers;
use crate::features::Features;
use crate::owners::Owners;
use crate::ring::{MAX_QUEUE_SIZE, Ring};
use crate::txhdr;
use alloc::boxed::Box;
use corenet_nic::{Offload, QueueCounters, TxQueue, TxSlot};

/// Index into the per-id arrays; the mask is a no-op on validated ids (and on `n_free`, which
/// never exceeds the queue size) and lets the compiler drop the bounds check.
#[inline]
fn idx(id: u16) -> usize {
    usize::from(id) & (MAX_QUEUE_SIZE - 1)
}

/// A virtio-net transmit queue (`transmitq`), owned by one core.
///
/// `alloc` hands out the next validated completion of the window claimed from the used ring (a
/// completion becomes the next allocation without passing through a free list), else a buffer
/// from the free list (initially every buffer, later those returned by `cancel`, a refused
/// `submit` or `reclaim`), else claims a new window. See `docs/virtio.md`.
#[derive(Debug)]
pub struct VirtioTx {
    ring: Ring,
    bufs: Buffers,
    /// Header length, added to every descriptor's length.
    hdr_len: u32,
    csum: bool,
    /// Large buffers for TSO frames (HOST_TSO4 negotiated and their memory allocated): ids
    /// `small..size` of the ring, one buffer each.
    big: Option<BigBuffers>,
    /// Ids below this are MTU-sized buffers; the rest (`TSO_BUFS` of them with `big`) large.
    small: u16,
    big_free: [u16; TSO_BUFS as usize],
    n_big_free: u16,
    queue: u16,
    /// Who holds each buffer: the stack (allocated), the device (submitted, until its
    /// completion is taken), or nobody (free).
    owners: Owners,
    /// Whether buffer `id`'s header carries a checksum request; otherwise it is all zero and
    /// need not be rewritten (the stack never writes the header area, see `buffer`).
    csum_hdr: Box<[bool; MAX_QUEUE_SIZE]>,
    free: Box<[u16; MAX_QUEUE_SIZE]>,
    n_free: u16,
    /// Completions claimed from the used ring and not yet validated and taken: free-running
    /// positions `win_pos..win_end`.
    win_pos: u16,
    win_end: u16,
    unflushed_bytes: u64,
    counters: QueueCounters,
}

impl VirtioTx {
    /// `big`: the large buffers, used when the device segments (HOST_TSO4) and the ring has
    /// room for them (at least four times [`TSO_BUFS`] entries); they take the ring's top ids.
    pub(crate) fn new(
        mut ring: Ring,
        mut bufs: Buffers,
        features: Features,
        queue: u16,
        big: Option<BigBuffers>,
    ) -> Self {
        let size = ring.size();
        let hdr_len = crate::features::header_len(features);
        bufs.set_header(hdr_len);
        let csum = features.contains(Features::CSUM);
        let big =
            big.filter(|_| csum && features.contains(Features::HOST_TSO4) && size >= 4 * TSO_BUFS);
        let small = if big.is_some() { size - TSO_BUFS } else { size };
        let mut free = Box::new([0; MAX_QUEUE_SIZE]);
        for id in 0..small {
            ring.write_desc(id, bufs.phys(id), 0, 0, 0);
            // All-zero headers: only checksum requests ever write them again.
            bufs.zero_hdr(id);
            // Hand out low ids first (pop from the end).
            free[usize::from(id)] = small - 1 - id;
        }
        let mut big_free = [0; TSO_BUFS as usize];
        if let Some(b) = &big {
            for (i, f) in big_free.iter_mut().enumerate() {
                let id = small + i as u16;
                ring.write_desc(id, b.phys(i as u16), 0, 0, 0);
                *f = id;
            }
        }
        Self {
            ring,
            bufs,
            hdr_len: hdr_len as u32,
            csum,
            n_big_free: if big.is_some() { TSO_BUFS } else { 0 },
            big,
            small,
            big_free,
            queue,
            owners: Owners::new(),
            csum_hdr: Box::new([false; MAX_QUEUE_SIZE]),
            free,
            n_free: small,
            win_pos: 0,
            win_end: 0,
            unflushed_bytes: 0,
            counters: QueueCounters::new(),
        }
    }

    /// Claims the completions the device posted since the last claim (at most the queue size:
    /// an index jump is counted) as the new window; false if there are none. Only called with
    /// an empty window.
    fn claim_window(&mut self) -> bool {
        let size = self.ring.size();
        let pending = self.ring.used_pending();
        if pending > size {
            self.counters.errors.inc();
        }
        let take = pending.min(size);
        self.win_pos = self.ring.last_used();
        self.win_end = self.win_pos.wrapping_add(take);
        self.ring.consume(take);
        take != 0
    }

    /// The next completion of the current window, if it is valid: in range and held by the
    /// device. Straight-line: the per-packet path of `alloc`.
    #[inline]
    fn take_one(&mut self) -> Option<u16> {
        let pos = self.win_pos;
        if pos == self.win_end {
            return None;
        }
        let id = self.ring.used_id_at(pos);
        self.win_pos = pos.wrapping_add(1);
        // The used `len` of a TX buffer carries no information (5.1.6.2): ignored.
        if self.owners.device_holds(id) {
            Some(id as u16)
        } else {
            None
        }
    }

    /// The next valid completion of the current window; every invalid id is counted and
    /// skipped.
    fn take_window(&mut self) -> Option<u16> {
        while self.win_pos != self.win_end {
            if let Some(id) = self.take_one() {
                return Some(id);
            }
            self.counters.errors.inc();
        }
        None
    }

    /// `alloc`'s slow path: skip invalid completions, claim a new window when empty.
    #[cold]
    #[inline(never)]
    fn take_slow(&mut self) -> Option<u16> {
        if let Some(id) = self.take_window() {
            return Some(id);
        }
        if self.claim_window() {
            self.take_window()
        } else {
            None
        }
    }

    /// Takes back every buffer the device has finished with into the free list; returns how
    /// many. (`alloc` does this lazily, one completion at a time.)
    pub fn reclaim(&mut self) -> usize {
        // What is left of the current window, then everything posted since it was claimed.
        let mut n = self.drain_window();
        if self.claim_window() {
            n += self.drain_window();
        }
        n
    }

    /// Moves every valid completion of the current window to the free list; returns how many.
    fn drain_window(&mut self) -> usize {
        let mut n = 0;
        while let Some(id) = self.take_window() {
            self.give_back(id);
            n += 1;
        }
        n
    }

    /// Entries of the queue (as negotiated with the device).
    pub fn size(&self) -> u16 {
        self.ring.size()
    }

    /// Frames in the device's hands.
    pub fn in_flight(&self) -> usize {
        self.owners.device_count()
    }

    /// Whether the caller's slot names a buffer the stack holds (tokens are forgeable).
    #[inline]
    fn owned(&self, s: &TxSlot) -> bool {
        self.owners.stack_holds(s.slot)
    }

    fn give_back(&mut self, id: u16) {
        self.owners.give_nobody(id);
        if id >= self.small {
            // A large buffer (ids are validated, so `small <= id < size`).
            if let Some(f) = self.big_free.get_mut(usize::from(self.n_big_free)) {
                *f = id;
                self.n_big_free += 1;
            }
            return;
        }
        self.free[idx(self.n_free)] = id;
        self.n_free += 1;
    }

    /// The next buffer for `alloc`, small or large: completions already claimed first (the
    /// steady state: no free-list test on the fast path), then the free list, and only then a
    /// new claim from `used.idx`.
    #[inline]
    fn alloc_any(&mut self) -> Option<u16> {
        let before = self.win_pos;
        match self.take_one() {
            Some(id) => Some(id),
            None => {
                if self.win_pos != before {
                    // `take_one` consumed an invalid id.
                    self.counters.errors.inc();
                }
                if self.n_free != 0 {
                    self.n_free -= 1;
                    Some(self.free[idx(self.n_free)])
                } else {
                    self.take_slow()
                }
            }
        }
    }

    /// Writes the first 12 header bytes of buffer `id`, small or large.
    fn write_hdr(&mut self, id: u16, lo: u64, hi: u32) {
        match &mut self.big {
            Some(b) if id >= self.small => b.write_hdr(id - self.small, lo, hi),
            _ => self.bufs.write_hdr(id, lo, hi),
        }
    }

    /// The largest frame buffer `id` holds.
    #[inline]
    fn cap(&self, id: u16) -> usize {
        match &self.big {
            Some(b) if id >= self.small => b.cap().min(TSO_MAX_FRAME),
            _ => self.bufs.cap(),
        }
    }
}

impl TxQueue for VirtioTx {
    fn queue_index(&self) -> u16 {
        self.queue
    }

    #[inline]
    fn alloc(&mut self) -> Option<TxSlot> {
        loop {
            let id = self.alloc_any()?;
            if id < self.small {
                self.owners.give_stack(id);
                return Some(TxSlot { slot: id });
            }
            // A large buffer's completion: back to its own pool.
            self.give_back(id);
        }
    }

    fn alloc_large(&mut self) -> Option<TxSlot> {
        self.big.as_ref()?;
        if self.n_big_free == 0 {
            self.reclaim();
        }
        self.n_big_free = self.n_big_free.checked_sub(1)?;
        let id = self.big_free[usize::from(self.n_big_free)];
        self.owners.give_stack(id);
        Some(TxSlot { slot: id })
    }

    fn tso_max_frame(&self) -> Option<usize> {
        self.big.as_ref().map(|b| b.cap().min(TSO_MAX_FRAME))
    }

    #[inline]
    fn buffer(&mut self, slot: &TxSlot) -> &mut [u8] {
        if !self.owned(slot) {
            return &mut [];
        }
        match &mut self.big {
            Some(b) if slot.slot >= self.small => b.frame_mut(slot.slot - self.small),
            _ => self.bufs.frame_mut(slot.slot),
        }
    }

    #[inline]
    fn submit(&mut self, slot: TxSlot, len: usize, offload: Offload) {
        if !self.owned(&slot) {
            self.counters.errors.inc();
            return;
        }
        let id = slot.slot;
        // One compare for `1 <= len <= cap`.
        if len.wrapping_sub(1) >= self.cap(id) {
            self.counters.errors.inc();
            self.give_back(id);
            return;
        }
        // virtio_net_hdr (5.1.6): all zero except the checksum and segmentation requests;
        // num_buffers is 0 on TX. Headers start zeroed and are rewritten only when the request
        // changes. Without CSUM, requests are ignored (the stack only makes them when
        // `csum_offload` says so) and no buffer can hold a frame to segment.
        if self.csum {
            let large = self.big.is_some() && id >= self.small;
            let Some((lo, hi)) = txhdr::header(offload, len, large) else {
                // A request the device must not see: refused, counted.
                self.counters.errors.inc();
                self.give_back(id);
                return;
            };
            let set = lo != 0;
            if set || self.csum_hdr[idx(id)] {
                self.write_hdr(id, lo, hi);
                self.csum_hdr[idx(id)] = set;
            }
        }
        self.ring.set_desc_len(id, self.hdr_len + len as u32);
        self.ring.push_avail(id);
        self.owners.give_device(id);
        // Counted at flush: one counter update per burst (packets = entries pushed).
        self.unflushed_bytes += len as u64;
    }

    fn cancel(&mut self, slot: TxSlot) {
        if self.owned(&slot) {
            self.give_back(slot.slot);
        }
    }

    fn flush(&mut self) {
        let packets = self.ring.unpublished();
        if packets != 0 {
            self.counters.packets.add(u64::from(packets));
            self.counters.bytes.add(self.unflushed_bytes);
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
