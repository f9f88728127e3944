//! One transmit queue: advanced data descriptors, one tail write per flush, completions
//! reclaimed in batches from the head write-back.
//!
//! Completion (datasheet 7.2.3.5.2, "Tx head pointer write back"): with TDWBAL.Head_WB_En set,
//! the device writes its TDH value to host memory instead of setting DD in each descriptor. One
//! volatile read of that word tells how many descriptors are done. The value is untrusted: it
//! must lie within the ring and not beyond what was handed to the device, else it is counted
//! as an error and ignored.
//!
//! Checksum offload (7.2.5.1, planned in [`crate::csum`]): a context descriptor is written
//! only when the packet's layout differs from the one last loaded into context slot 0 (for a
//! TCP stack, once), and only while no other context descriptor is in flight: one descriptor
//! is kept in reserve for it (`size - 2` buffers), so data descriptors always fit. When a
//! context cannot be written, or the layout is not one the 82599 knows, the driver computes
//! the checksum itself.

use alloc::vec;
use alloc::vec::Vec;
use core::sync::atomic::{Ordering, fence};

use corenet_nic::{Offload, QueueCounters, TxQueue, TxSlot};

use crate::csum::{self, Context};
use crate::desc::*;
use crate::dma::{BufPool, DescRing};
use crate::freelist::FreeList;
use crate::mmio::RegisterAccess;
use crate::rx::BUF_SIZE;

/// Reclaim completions at flush once this many descriptors are in flight (or half the ring).
pub const RECLAIM_BATCH: u16 = 32;

/// `desc_buf` entry of a context descriptor: no buffer to return.
const NO_BUF: u16 = u16::MAX;

/// The transmit half of a queue pair.
#[derive(Debug)]
pub struct IxgbeTx<R: RegisterAccess> {
    regs: R,
    index: u16,
    /// TDT of this queue (its offset differs between the 82599 and the 82576).
    tail_reg: u32,
    /// Descriptors, then (at `head_wb`) the head write-back word.
    ring: DescRing,
    head_wb: usize,
    bufs: BufPool,
    mask: u16,
    /// Next descriptor to fill.
    tail: u16,
    /// Oldest descriptor not yet reclaimed.
    clean: u16,
    /// Descriptors handed to the device (tail written) and not reclaimed.
    in_flight: u16,
    /// Descriptors filled since the last tail write.
    unflushed: u16,
    /// Packets among them.
    unflushed_packets: u16,
    /// Context descriptors written and not reclaimed (at most 1).
    ctx_in_ring: u16,
    /// The context slot 0 holds once the device has processed every descriptor written.
    ctx: Option<Context>,
    /// Checksums requested and computed by the driver instead of the device.
    sw_csums: u64,
    /// Bytes in the unflushed frames (counted at flush).
    unflushed_bytes: u64,
    /// Reclaim at flush once this many descriptors are in flight.
    reclaim_at: u16,
    desc_buf: Vec<u16>,
    free: FreeList,
    allocated: Vec<bool>,
    counters: QueueCounters,
}

impl<R: RegisterAccess> IxgbeTx<R> {
    /// A queue over `size` descriptors (a power of two) in `ring`, whose bytes from
    /// `size * 16` hold the head write-back word, and `size - 2` buffers: one descriptor always
    /// stays empty, so a full ring never looks empty (TDH == TDT), and one is reserved for a
    /// context descriptor.
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
            head_wb: size as usize * DESC_SIZE,
            bufs,
            mask: size - 1,
            tail: 0,
            clean: 0,
            in_flight: 0,
            unflushed: 0,
            unflushed_packets: 0,
            ctx_in_ring: 0,
            ctx: None,
            sw_csums: 0,
            unflushed_bytes: 0,
            reclaim_at: RECLAIM_BATCH.min(size / 2),
            desc_buf: vec![0; size as usize],
            free: FreeList::full(size as usize, size - 2),
            allocated: vec![false; size as usize],
            counters: QueueCounters::new(),
        }
    }

    /// Device address of the head write-back word (programmed into TDWBAL/TDWBAH).
    pub(crate) fn head_wb_phys(&self) -> u64 {
        self.ring.mem().phys() + self.head_wb as u64
    }

    /// Returns buffers of completed descriptors to the free stack; how many were reclaimed.
    pub fn reclaim(&mut self) -> u16 {
        let head = self.ring.mem().read_u32(self.head_wb);
        fence(Ordering::Acquire);
        let done = (head as u16).wrapping_sub(self.clean) & self.mask;
        if head > u32::from(self.mask) || done > self.in_flight {
            // Past the ring, or ahead of what the device was given: never trusted.
            self.counters.errors.inc();
            return 0;
        }
        for _ in 0..done {
            match self.desc_buf.get(self.clean as usize) {
                Some(&NO_BUF) => self.ctx_in_ring = self.ctx_in_ring.saturating_sub(1),
                Some(&b) => self.free.push(b),
                None => {}
            }
            self.clean = (self.clean + 1) & self.mask;
        }
        self.in_flight -= done;
        done
    }

    /// Descriptors handed to the device and not yet reclaimed.
    pub fn in_flight(&self) -> u16 {
        self.in_flight
    }

    /// Checksums the driver computed itself (layouts the device cannot express, or no room
    /// for a context descriptor).
    pub fn software_checksums(&self) -> u64 {
        self.sw_csums
    }

    /// Buffers (in flight or unflushed, free, allocated to the caller): always summing to the
    /// ring size minus two, whatever the device does.
    /// For tests and the fuzz harness (feature `model`).
    #[cfg(any(test, feature = "model"))]
    pub fn accounting(&self) -> (usize, usize, usize) {
        let allocated = self.allocated.iter().filter(|&&a| a).count();
        let queued = usize::from(self.in_flight + self.unflushed - self.ctx_in_ring);
        (queued, self.free.len(), allocated)
    }

    /// Honours a checksum request for the `len` bytes in buffer `buf`: returns the data
    /// descriptor's CC/POPTS bits (0 when the driver computed it), `None` for a request
    /// outside the frame. Out of line: the path without offload stays small.
    #[inline(never)]
    fn checksum(&mut self, buf: u16, len: usize, req: (u16, u16)) -> Option<u32> {
        let r = csum::plan(self.bufs.bytes(buf, len), req)?;
        match r.ctx {
            Some(ctx) if self.load_context(ctx) => Some(TX_OLINFO_CC | TX_POPTS_TXSM), // slot 0
            _ => {
                let frame = self.bufs.bytes_mut(buf);
                if let Some(f) = frame.get_mut(..len) {
                    csum::software(f, &r);
                }
                self.sw_csums += 1;
                Some(0)
            }
        }
    }

    /// Makes context slot 0 hold `ctx` by the time the next descriptor is processed: nothing
    /// to do if it already will, else a context descriptor if none is in flight (after one
    /// reclaim). False: no room; the caller checksums in software.
    fn load_context(&mut self, ctx: Context) -> bool {
        if self.ctx == Some(ctx) {
            return true;
        }
        if self.ctx_in_ring > 0 {
            self.reclaim();
            if self.ctx_in_ring > 0 {
                return false;
            }
        }
        let d = self.tail;
        self.ring
            .write_u64(d, TX_CTX_VLAN_MACIP_LENS, u64::from(ctx.vlan_macip_lens));
        // IDX 0, no MSS/L4LEN (no segmentation).
        let tucmd = ctx.tucmd | TX_DTYP_CTXT | TX_DCMD_DEXT;
        self.ring.write_u64(d, TX_CTX_TYPE_TUCMD, u64::from(tucmd));
        if let Some(b) = self.desc_buf.get_mut(d as usize) {
            *b = NO_BUF;
        }
        self.tail = (self.tail + 1) & self.mask;
        self.unflushed += 1;
        self.ctx_in_ring += 1;
        self.ctx = Some(ctx);
        true
    }

    fn take_allocated(&mut self, slot: &TxSlot) -> bool {
        match self.allocated.get_mut(slot.slot as usize) {
            Some(a) if *a => {
                *a = false;
                true
            }
            _ => false,
        }
    }
}

impl<R: RegisterAccess> TxQueue for IxgbeTx<R> {
    fn queue_index(&self) -> u16 {
        self.index
    }

    fn alloc(&mut self) -> Option<TxSlot> {
        if self.free.is_empty() {
            self.reclaim();
        }
        let buf = self.free.pop()?;
        if let Some(a) = self.allocated.get_mut(buf as usize) {
            *a = true;
        }
        Some(TxSlot { slot: buf })
    }

    fn buffer(&mut self, slot: &TxSlot) -> &mut [u8] {
        if self
            .allocated
            .get(slot.slot as usize)
            .copied()
            .unwrap_or(false)
        {
            self.bufs.bytes_mut(slot.slot)
        } else {
            &mut []
        }
    }

    fn submit(&mut self, slot: TxSlot, len: usize, offload: Offload) {
        if !self.take_allocated(&slot) {
            self.counters.errors.inc();
            return;
        }
        let popts = match offload.l4_csum {
            _ if len == 0 || len > BUF_SIZE => None,
            None => Some(0),
            Some(r) => self.checksum(slot.slot, len, r),
        };
        let Some(popts) = popts else {
            // Empty, oversize, or a checksum field outside the frame: refused.
            self.counters.errors.inc();
            self.free.push(slot.slot);
            return;
        };
        let olinfo = (len as u32) << TX_PAYLEN_SHIFT | popts;
        let d = self.tail;
        self.ring.write_u64(d, TX_ADDR, self.bufs.phys(slot.slot));
        let cmd = TX_DTYP_DATA | TX_DCMD_EOP | TX_DCMD_IFCS | TX_DCMD_RS | TX_DCMD_DEXT;
        // Dwords 2 (cmd_type_len) and 3 (olinfo_status) in one store: the device reads the
        // descriptor only after the tail write.
        let upper = u64::from(len as u32 | cmd) | u64::from(olinfo) << 32;
        self.ring.write_u64(d, TX_CMD_TYPE_LEN, upper);
        if let Some(b) = self.desc_buf.get_mut(d as usize) {
            *b = slot.slot;
        }
        self.tail = (self.tail + 1) & self.mask;
        self.unflushed += 1;
        self.unflushed_packets += 1;
        self.unflushed_bytes += len as u64;
    }

    fn cancel(&mut self, slot: TxSlot) {
        if self.take_allocated(&slot) {
            self.free.push(slot.slot);
        }
    }

    fn flush(&mut self) {
        if self.unflushed == 0 {
            return;
        }
        // Descriptors must be in memory before the device sees the new tail (7.2.3.1).
        fence(Ordering::Release);
        self.regs.write32(self.tail_reg, u32::from(self.tail));
        self.counters.doorbells.inc();
        self.counters.packets.add(u64::from(self.unflushed_packets));
        self.counters.bytes.add(self.unflushed_bytes);
        self.in_flight += self.unflushed;
        self.unflushed = 0;
        self.unflushed_packets = 0;
        self.unflushed_bytes = 0;
        if self.in_flight >= self.reclaim_at {
            self.reclaim();
        }
    }

    fn csum_offload(&self) -> bool {
        true
    }

    fn counters(&self) -> &QueueCounters {
        &self.counters
    }
}
