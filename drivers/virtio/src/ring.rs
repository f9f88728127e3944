//! The split virtqueue (2.7) in DMA memory: descriptor table, available ring, used ring.
//!
//! Only this module and `buffers.rs` touch DMA memory, always through volatile accesses at
//! computed offsets (never through Rust references). The ring knows nothing about ownership of
//! ids: the RX, TX and control queues track that in private memory and validate every used
//! element before acting on it.
#![allow(unsafe_code)]

use crate::doorbell::Doorbell;
use core::sync::atomic::{Ordering, fence};
use corenet_nic::DmaRegion;

/// Largest queue the driver uses (per-id state lives in fixed arrays of this size). 1024 is
/// what QEMU's virtio-net offers at most (`rx_queue_size`/`tx_queue_size`); a device offering
/// less gets its own size.
pub const MAX_QUEUE_SIZE: usize = 1024;

/// Descriptor flag: the chain continues at `next` (2.7.5).
pub(crate) const DESC_F_NEXT: u16 = 1;
/// Descriptor flag: the device writes this buffer (2.7.5).
pub(crate) const DESC_F_WRITE: u16 = 2;
/// `avail.flags`: no used-buffer notifications please (2.7.7), used without EVENT_IDX.
const AVAIL_F_NO_INTERRUPT: u16 = 1;
/// `used.flags`: the device does not need available-buffer notifications (2.7.7).
const USED_F_NO_NOTIFY: u16 = 1;

/// Byte sizes of the three parts for `size` entries (2.7: 16-byte descriptors, avail ring with
/// flags, idx, ring, used_event; used ring with flags, idx, 8-byte elements, avail_event).
pub(crate) const fn layout(size: usize) -> (usize, usize, usize) {
    let desc = 16 * size;
    let avail = desc;
    // used ring must be 4-byte aligned (2.7, table "Virtqueue Part Alignment").
    let used = (avail + 6 + 2 * size + 3) & !3;
    (avail, used, used + 6 + 8 * size)
}

/// One used element as the device wrote it: untrusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UsedElem {
    pub id: u32,
    pub len: u32,
}

/// The driver side of one split virtqueue.
#[derive(Debug)]
pub(crate) struct Ring {
    base: *mut u8,
    phys: u64,
    size: u16,
    /// `size - 1`, as `usize` so masked positions index without a zero-extension.
    mask: usize,
    avail_off: usize,
    used_off: usize,
    /// `avail.ring[0]` and `used.ring[0]`, precomputed for the per-packet accesses.
    avail_ring: *mut u16,
    used_ring: *mut u32,
    /// Our copy of `avail.idx` (never read back from DMA memory).
    avail_idx: u16,
    /// `avail.idx` at the previous publish, for `vring_need_event`.
    published: u16,
    last_used: u16,
    event_idx: bool,
    doorbell: Doorbell,
}

// SAFETY: a `Ring` exclusively owns its descriptor table and rings (DMA memory handed to it at
// construction, identity mapped, valid on every core). Moving it to another core moves that
// ownership; it is never shared (not `Sync`), so accesses stay single-threaded.
unsafe impl Send for Ring {}

impl Ring {
    /// Bytes of DMA memory a ring of `size` entries needs.
    pub(crate) const fn bytes(size: u16) -> usize {
        layout(size as usize).2
    }

    /// A ring of `size` (a power of two, at most [`MAX_QUEUE_SIZE`]) entries in `region`.
    ///
    /// # Safety
    ///
    /// `region` must come from a `DmaAllocator` (valid, zeroed, exclusively ours for the ring's
    /// lifetime), be 16-byte aligned and at least [`Ring::bytes`] long.
    pub(crate) unsafe fn new(
        region: DmaRegion,
        size: u16,
        event_idx: bool,
        doorbell: Doorbell,
    ) -> Self {
        debug_assert!(size.is_power_of_two() && usize::from(size) <= MAX_QUEUE_SIZE);
        debug_assert!(region.len >= Self::bytes(size));
        let (avail_off, used_off, _) = layout(usize::from(size));
        let ring = Self {
            base: region.virt.as_ptr(),
            phys: region.phys,
            size,
            mask: usize::from(size) - 1,
            avail_off,
            used_off,
            // SAFETY: both offsets are inside the ring's layout (`bytes`), per `new`'s contract.
            avail_ring: unsafe { region.virt.as_ptr().add(avail_off + 4).cast() },
            // SAFETY: as above; the used ring is 4-byte aligned (`layout`).
            used_ring: unsafe { region.virt.as_ptr().add(used_off + 4).cast() },
            avail_idx: 0,
            published: 0,
            last_used: 0,
            event_idx,
            doorbell,
        };
        // Polling driver: ask for no used-buffer notifications (ignored with EVENT_IDX, where
        // `used_event` does the job, see `consume`).
        ring.w16(avail_off, AVAIL_F_NO_INTERRUPT);
        ring.w16(avail_off + 4 + 2 * usize::from(size), 0x8000);
        ring
    }

    /// Queue size.
    #[inline]
    pub(crate) fn size(&self) -> u16 {
        self.size
    }

    /// Device addresses of (descriptor table, driver area, device area) for `queue_set`.
    pub(crate) fn phys_parts(&self) -> (u64, u64, u64) {
        (
            self.phys,
            self.phys + self.avail_off as u64,
            self.phys + self.used_off as u64,
        )
    }

    #[inline]
    fn w16(&self, off: usize, v: u16) {
        // SAFETY: every caller passes an offset inside the ring's layout (ids and slots are
        // masked), 2-byte aligned; the region is valid per `new`'s contract.
        unsafe { self.base.add(off).cast::<u16>().write_volatile(v) }
    }

    #[inline]
    fn r16(&self, off: usize) -> u16 {
        // SAFETY: as in `w16`.
        unsafe { self.base.add(off).cast::<u16>().read_volatile() }
    }

    /// Writes descriptor `id` (masked into range).
    pub(crate) fn write_desc(&mut self, id: u16, addr: u64, len: u32, flags: u16, next: u16) {
        let off = 16 * (usize::from(id) & self.mask);
        // SAFETY: `off + 16 <= 16 * size`, inside the descriptor table, 16-byte aligned.
        unsafe {
            let p = self.base.add(off);
            p.cast::<u64>().write_volatile(addr);
            p.add(8).cast::<u32>().write_volatile(len);
            p.add(12).cast::<u16>().write_volatile(flags);
            p.add(14).cast::<u16>().write_volatile(next);
        }
    }

    /// Rewrites only the length of descriptor `id` (TX: address and flags never change).
    #[inline]
    pub(crate) fn set_desc_len(&mut self, id: u16, len: u32) {
        let off = 16 * (usize::from(id) & self.mask) + 8;
        // SAFETY: inside the descriptor table, 4-byte aligned.
        unsafe { self.base.add(off).cast::<u32>().write_volatile(len) }
    }

    /// Puts chain head `id` in the next available slot; the device sees it at [`publish`].
    ///
    /// [`publish`]: Ring::publish
    #[inline]
    pub(crate) fn push_avail(&mut self, id: u16) {
        let slot = usize::from(self.avail_idx) & self.mask;
        // SAFETY: `slot < size`: inside `avail.ring`.
        unsafe { self.avail_ring.add(slot).write_volatile(id) };
        self.avail_idx = self.avail_idx.wrapping_add(1);
    }

    /// Makes everything pushed visible to the device and rings the doorbell if the device wants
    /// it (2.7.13.3-4). Returns whether it rang.
    pub(crate) fn publish(&mut self) -> bool {
        let new = self.avail_idx;
        let old = self.published;
        if new == old {
            return false;
        }
        // Descriptors and ring entries before the index (2.7.13.3.1).
        fence(Ordering::Release);
        self.w16(self.avail_off + 2, new);
        self.published = new;
        // The index store before reading the device's suppression state (Linux virtio_mb).
        fence(Ordering::SeqCst);
        let notify = if self.event_idx {
            // `avail_event` is device-written: any value only changes whether we ring.
            let event = self.r16(self.used_off + 4 + 8 * usize::from(self.size));
            need_event(event, new, old)
        } else {
            self.r16(self.used_off) & USED_F_NO_NOTIFY == 0
        };
        if notify {
            self.doorbell.ring();
        }
        notify
    }

    /// Publishes without considering a doorbell: the control queue notifies through the
    /// transport instead.
    pub(crate) fn publish_index(&mut self) {
        fence(Ordering::Release);
        self.w16(self.avail_off + 2, self.avail_idx);
        self.published = self.avail_idx;
        fence(Ordering::SeqCst);
    }

    /// Rings the doorbell unconditionally (after DRIVER_OK, for buffers posted before it).
    pub(crate) fn kick(&mut self) {
        fence(Ordering::SeqCst);
        self.doorbell.ring();
    }

    /// How many used elements the device claims are new: `used.idx - last_used`, untrusted
    /// (may exceed the ring size when the device jumps the index).
    #[inline]
    pub(crate) fn used_pending(&self) -> u16 {
        let idx = self.r16(self.used_off + 2);
        // Elements are read after the index (2.7.14).
        fence(Ordering::Acquire);
        idx.wrapping_sub(self.last_used)
    }

    /// Asks for a used-buffer notification on the next used element (2.7.7, 2.7.10), before
    /// the caller halts; returns whether elements are already waiting (then it must not).
    pub(crate) fn enable_interrupt(&mut self) -> bool {
        if self.event_idx {
            let off = self.avail_off + 4 + 2 * usize::from(self.size);
            self.w16(off, self.last_used);
        } else {
            self.w16(self.avail_off, 0);
        }
        // The request is visible before the re-read of `used.idx` (the device may have
        // added elements just before reading it).
        fence(Ordering::SeqCst);
        self.used_pending() != 0
    }

    /// Back to polling: no used-buffer notifications.
    pub(crate) fn disable_interrupt(&mut self) {
        if self.event_idx {
            let off = self.avail_off + 4 + 2 * usize::from(self.size);
            self.w16(off, self.last_used.wrapping_add(0x8000));
        } else {
            self.w16(self.avail_off, AVAIL_F_NO_INTERRUPT);
        }
    }

    /// The `k`-th unconsumed used element.
    #[inline]
    pub(crate) fn used_elem(&self, k: u16) -> UsedElem {
        let slot = usize::from(self.last_used.wrapping_add(k)) & self.mask;
        // SAFETY: `slot < size`: inside `used.ring`, 4-byte aligned.
        unsafe {
            let p = self.used_ring.add(2 * slot);
            UsedElem {
                id: p.read_volatile(),
                len: p.add(1).read_volatile(),
            }
        }
    }

    /// The used element at free-running position `pos` (masked into the ring).
    #[inline]
    pub(crate) fn used_elem_at(&self, pos: u16) -> UsedElem {
        let slot = usize::from(pos) & self.mask;
        // SAFETY: `slot < size`: inside `used.ring`, 4-byte aligned.
        unsafe {
            let p = self.used_ring.add(2 * slot);
            UsedElem {
                id: p.read_volatile(),
                len: p.add(1).read_volatile(),
            }
        }
    }

    /// The ring position (free-running 16-bit index) of the first unconsumed used element.
    #[inline]
    pub(crate) fn last_used(&self) -> u16 {
        self.last_used
    }

    /// The id of the used element at free-running position `pos` (masked into the ring).
    #[inline]
    pub(crate) fn used_id_at(&self, pos: u16) -> u32 {
        let slot = usize::from(pos) & self.mask;
        // SAFETY: `slot < size`: inside `used.ring`, 4-byte aligned.
        unsafe { self.used_ring.add(2 * slot).read_volatile() }
    }

    /// Entries pushed since the last publish (each is one buffer: one frame on TX).
    #[inline]
    pub(crate) fn unpublished(&self) -> u16 {
        self.avail_idx.wrapping_sub(self.published)
    }

    /// Consumes `n` used elements.
    #[inline]
    pub(crate) fn consume(&mut self, n: u16) {
        self.last_used = self.last_used.wrapping_add(n);
        if self.event_idx {
            // Keep `used_event` half the index space ahead: the device never crosses it, so it
            // never interrupts (polling driver, 2.7.10).
            let off = self.avail_off + 4 + 2 * usize::from(self.size);
            self.w16(off, self.last_used.wrapping_add(0x8000));
        }
    }
}

/// `vring_need_event` (2.7.10): whether moving the index from `old` to `new` crossed `event`.
#[inline]
pub(crate) fn need_event(event: u16, new: u16, old: u16) -> bool {
    new.wrapping_sub(event).wrapping_sub(1) < new.wrapping_sub(old)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_spec_sizes() {
        let (a, u, total) = layout(256);
        assert_eq!(a, 4096);
        assert_eq!(u, (4096 + 6 + 512 + 3) & !3);
        assert_eq!(u % 4, 0);
        assert_eq!(total, u + 6 + 8 * 256);
    }

    #[test]
    fn need_event_wraps() {
        assert!(need_event(0, 1, 0));
        assert!(!need_event(5, 3, 0));
        assert!(need_event(0xffff, 2, 0xfffe));
        assert!(!need_event(0xfff0, 2, 0xfffe));
        // virtio-drivers' `avail_idx >= avail_event + 1` gets this one wrong.
        assert!(need_event(0xfffe, 1, 0xfff0));
    }
}
