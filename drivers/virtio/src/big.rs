//! The large transmit buffers of a queue that segments TCP (TSO): a few, each one frame of up
//! to 64 KiB behind its virtio-net header, in one DMA region.
#![allow(unsafe_code)]

use corenet_nic::DmaRegion;

/// Large buffers per transmit queue: what one poll's egress may hand the device before its
/// completions come back (a 64 KiB frame each: 1 MiB of send window), and few enough that
/// the memory stays bounded (about 1 MiB per queue).
pub const TSO_BUFS: u16 = 16;

/// Bytes per large buffer: a header of at most 20 bytes and the longest TSO frame
/// ([`TSO_MAX_FRAME`]), rounded up to 2 KiB.
pub const BIG_BUF_SIZE: usize = 64 * 1024 + 2048;

/// The longest frame handed to the device for segmentation: an Ethernet header and the
/// largest IPv4 packet (its total length field is 16 bits; the device cuts it into frames of
/// the interface's MTU).
pub const TSO_MAX_FRAME: usize = 14 + 65535;

const _: () = assert!(crate::buffers::HDR_MAX + TSO_MAX_FRAME <= BIG_BUF_SIZE);

/// [`TSO_BUFS`] buffers of [`BIG_BUF_SIZE`] bytes. Indexes are reduced modulo the count, so
/// none reaches outside the region whatever its value.
#[derive(Debug)]
pub(crate) struct BigBuffers {
    virt: *mut u8,
    phys: u64,
    /// Header length: frames start here.
    hdr: usize,
}

// SAFETY: as for `Buffers`: exclusive ownership of identity-mapped DMA memory, not `Sync`.
unsafe impl Send for BigBuffers {}

impl BigBuffers {
    /// Bytes of DMA memory the buffers need.
    pub(crate) const BYTES: usize = TSO_BUFS as usize * BIG_BUF_SIZE;

    /// # Safety
    ///
    /// `region` must come from a `DmaAllocator` (valid, zeroed, exclusively ours for the
    /// buffers' lifetime) and be at least [`Self::BYTES`] long.
    pub(crate) unsafe fn new(region: DmaRegion, hdr: usize) -> Self {
        debug_assert!(region.len >= Self::BYTES);
        Self {
            virt: region.virt.as_ptr(),
            phys: region.phys,
            hdr: hdr.min(crate::buffers::HDR_MAX),
        }
    }

    #[inline]
    fn start(&self, i: u16) -> *mut u8 {
        // SAFETY: `(i % TSO_BUFS) * BIG_BUF_SIZE + BIG_BUF_SIZE <= BYTES <= region.len`.
        unsafe { self.virt.add(usize::from(i % TSO_BUFS) * BIG_BUF_SIZE) }
    }

    /// The largest frame a buffer holds after its header.
    pub(crate) fn cap(&self) -> usize {
        BIG_BUF_SIZE - self.hdr
    }

    /// Device address of buffer `i`.
    pub(crate) fn phys(&self, i: u16) -> u64 {
        self.phys + u64::from(i % TSO_BUFS) * BIG_BUF_SIZE as u64
    }

    /// The whole frame area (after the header) of buffer `i`, writable.
    pub(crate) fn frame_mut(&mut self, i: u16) -> &mut [u8] {
        // SAFETY: `[hdr, BIG_BUF_SIZE)` of buffer `i` (reduced into range), inside the region;
        // the queue only calls this for a buffer the CPU owns; `&mut self` gives exclusivity.
        unsafe { core::slice::from_raw_parts_mut(self.start(i).add(self.hdr), self.cap()) }
    }

    /// Writes the first 12 header bytes of buffer `i`, as `Buffers::write_hdr` does; the rest
    /// of the header (hash fields) stays zero from allocation.
    pub(crate) fn write_hdr(&mut self, i: u16, lo: u64, hi: u32) {
        // SAFETY: 12 bytes at the start of buffer `i`, inside the region, CPU-owned. Unaligned
        // writes of plain integers.
        unsafe {
            let p = self.start(i);
            p.cast::<u64>().write_unaligned(lo.to_le());
            p.add(8).cast::<u32>().write_unaligned(hi.to_le());
        }
    }
}
