//! One receive queue: advanced one-buffer descriptors, burst harvest, one tail write per burst.
//!
//! Ring discipline (datasheet 7.1.9 and 4.6.7.1): software owns descriptors from RDT round to
//! RDH; the device owns RDH up to RDT - 1 and writes each one back with DD set once filled.
//! The driver does not read RDH on the data path: it walks descriptors it posted, in order,
//! from `next_clean`, and stops at the first without DD or once every posted one is taken.
//! Buffers are decoupled from descriptor slots (a free stack of buffer indexes), so frames may
//! be released in any order and a buffer is re-posted at the next burst.

use alloc::vec;
use alloc::vec::Vec;
use core::sync::atomic::{Ordering, fence};

use corenet_nic::{QueueCounters, RxFrame, RxQueue};

use crate::desc::*;
use crate::dma::{BufPool, DescRing};
use crate::freelist::FreeList;
use crate::mmio::RegisterAccess;
use crate::msix::RxIrq;

/// Bytes per packet buffer; programmed into SRRCTL.BSIZEPACKET in 1 KB units.
pub const BUF_SIZE: usize = 2048;

/// The receive half of a queue pair.
#[derive(Debug)]
pub struct IxgbeRx<R: RegisterAccess> {
    regs: R,
    index: u16,
    /// RDT of this queue (its offset differs between the 82599 and the 82576).
    tail_reg: u32,
    ring: DescRing,
    bufs: BufPool,
    mask: u16,
    /// Next descriptor to look at for a write-back.
    next_clean: u16,
    /// Next descriptor to post; the value last written to RDT.
    tail: u16,
    /// Descriptors currently owned by the device.
    posted: u16,
    /// Buffer posted at each descriptor.
    desc_buf: Vec<u16>,
    /// Buffers ready to be posted (released or dropped frames).
    free: FreeList,
    /// Buffers handed to the caller and not yet released.
    held: Vec<bool>,
    /// Dropping the rest of a frame whose first descriptor lacked EOP.
    discarding: bool,
    counters: QueueCounters,
    /// This queue's MSI-X vector, once [`crate::Ixgbe::enable_msix`] set one up.
    irq: Option<RxIrq>,
}

impl<R: RegisterAccess> IxgbeRx<R> {
    /// A queue over a ring of `size` descriptors (a power of two) and as many [`BUF_SIZE`]
    /// buffers. Registers are programmed by [`crate::Ixgbe`]'s init.
    pub(crate) fn new(
        regs: R,
        (index, tail_reg): (u16, u32),
        ring: DescRing,
        bufs: BufPool,
        size: u16,
    ) -> Self {
        Self {
            regs,
            index,
            tail_reg,
            ring,
            bufs,
            mask: size - 1,
            next_clean: 0,
            tail: 0,
            posted: 0,
            desc_buf: vec![0; size as usize],
            free: FreeList::full(size as usize, size),
            held: vec![false; size as usize],
            discarding: false,
            counters: QueueCounters::new(),
            irq: None,
        }
    }

    /// Posts free buffers to the device, then writes RDT once if anything was posted.
    pub(crate) fn refill(&mut self) {
        // One descriptor always stays unposted: RDH == RDT means "ring empty" (7.1.9).
        let room = self.mask - self.posted;
        let (mut tail, mut n) = (self.tail, 0u16);
        while n < room {
            let Some(buf) = self.free.pop() else { break };
            self.ring
                .write_u64(tail, RX_READ_PKT_ADDR, self.bufs.phys(buf));
            // Header address 0 also clears the DD bit of the previous write-back.
            self.ring.write_u64(tail, RX_READ_HDR_ADDR, 0);
            if let Some(d) = self.desc_buf.get_mut(usize::from(tail)) {
                *d = buf;
            }
            tail = (tail + 1) & self.mask;
            n += 1;
        }
        if n > 0 {
            self.tail = tail;
            self.posted += n;
            // Descriptors must be visible in memory before the device sees the new tail.
            fence(Ordering::Release);
            self.regs.write32(self.tail_reg, u32::from(tail));
            self.counters.doorbells.inc();
        }
    }

    pub(crate) fn set_irq(&mut self, irq: RxIrq) {
        self.irq = Some(irq);
    }

    /// Whether this queue has an MSI-X vector ([`crate::Ixgbe::enable_msix`]).
    pub fn has_interrupt(&self) -> bool {
        self.irq.is_some()
    }

    /// Unmasks this queue's vector before its core halts: `Some(pending)`, where `pending`
    /// says a frame already waits (the core must not halt); `None` without a vector. The
    /// stale cause of frames taken while polling is cleared first, so it does not fire now;
    /// a frame written after that clear raises the cause again and, once unmasked, the
    /// message; one written before it is seen by the look at the ring that follows the
    /// unmask. Either way no frame is left waiting for a wake-up that never comes.
    pub fn enable_interrupt(&mut self) -> Option<bool> {
        let irq = self.irq?;
        self.regs.write32(irq.eicr, irq.bit);
        self.regs.write32(irq.eims, irq.bit);
        // The ring is read only after the unmask reached the device.
        fence(Ordering::SeqCst);
        let _ = self.regs.read32(irq.eims);
        Some(self.pending())
    }

    /// Masks this queue's vector again (the core polls).
    pub fn disable_interrupt(&mut self) {
        if let Some(irq) = self.irq {
            self.regs.write32(irq.eimc, irq.bit);
        }
    }

    /// Whether the next descriptor to look at has been written back.
    fn pending(&self) -> bool {
        self.posted > 0
            && self
                .ring
                .view()
                .read_u32(self.next_clean, RX_WB_STATUS_ERROR)
                & RX_STAT_DD
                != 0
    }

    /// Descriptors the device currently owns (for tests and diagnostics).
    pub fn posted(&self) -> u16 {
        self.posted
    }

    /// Buffers (posted to the device, free, held by the caller): always summing to the ring
    /// size, whatever the device does.
    /// For tests and the fuzz harness (feature `model`).
    #[cfg(any(test, feature = "model"))]
    pub fn accounting(&self) -> (usize, usize, usize) {
        let held = self.held.iter().filter(|&&h| h).count();
        (usize::from(self.posted), self.free.len(), held)
    }
}

impl<R: RegisterAccess> RxQueue for IxgbeRx<R> {
    fn queue_index(&self) -> u16 {
        self.index
    }

    fn rx_burst(&mut self, out: &mut [RxFrame]) -> usize {
        self.refill();
        let (mut got, mut bytes, mut errors) = (0usize, 0u64, 0u64);
        let (mut next, mut posted, mut discarding) =
            (self.next_clean, self.posted, self.discarding);
        let (ring, mask) = (self.ring.view(), self.mask);
        let (desc_buf, held) = (&self.desc_buf[..], &mut self.held[..]);
        while posted > 0 {
            let Some(slot) = out.get_mut(got) else { break };
            let status_error = ring.read_u32(next, RX_WB_STATUS_ERROR);
            if status_error & RX_STAT_DD == 0 {
                break;
            }
            // The rest of the write-back is read only after DD was seen (7.1.6.2).
            fence(Ordering::Acquire);
            let len = (ring.read_u32(next, RX_WB_LEN_VLAN) & 0xFFFF) as usize;
            let info = ring.read_u32(next, RX_WB_INFO);
            let hash = ring.read_u32(next, RX_WB_RSS_HASH);
            let buf = desc_buf.get(usize::from(next)).copied().unwrap_or(0);
            next = (next + 1) & mask;
            posted -= 1;

            // Good: EOP, no frame error, 0 < len <= BUF_SIZE, not the tail of a bad frame. A
            // frame spread over several buffers cannot happen with 2 KB buffers and jumbo
            // frames off: its pieces are device misbehaviour and are dropped up to its EOP.
            let good = status_error & (RX_STAT_EOP | RX_ERR_FRAME) == RX_STAT_EOP
                && len.wrapping_sub(1) < BUF_SIZE
                && !discarding;
            if !good {
                errors += u64::from(!discarding);
                discarding = status_error & RX_STAT_EOP == 0;
                self.free.push(buf);
                continue;
            }
            if let Some(h) = held.get_mut(usize::from(buf)) {
                *h = true;
            }
            *slot = RxFrame {
                slot: buf,
                len: len as u16,
                rss_hash: (info & RX_WB_RSSTYPE_MASK != RSSTYPE_NONE).then_some(hash),
                csum_ok: status_error & (RX_STAT_L4CS | RX_ERR_TCPE) == RX_STAT_L4CS,
            };
            got += 1;
            bytes += len as u64;
        }
        self.next_clean = next;
        self.posted = posted;
        self.discarding = discarding;
        if got > 0 {
            self.counters.packets.add(got as u64);
            self.counters.bytes.add(bytes);
        }
        if errors > 0 {
            self.counters.errors.add(errors);
        }
        got
    }

    fn frame(&self, frame: &RxFrame) -> &[u8] {
        if self.held.get(frame.slot as usize).copied().unwrap_or(false) {
            self.bufs.bytes(frame.slot, frame.len as usize)
        } else {
            &[]
        }
    }

    fn release(&mut self, frame: RxFrame) {
        // Releasing a frame twice (or one never handed out) must not post a buffer twice.
        if let Some(h) = self.held.get_mut(frame.slot as usize)
            && *h
        {
            *h = false;
            self.free.push(frame.slot);
        }
    }

    fn counters(&self) -> &QueueCounters {
        &self.counters
    }
}
