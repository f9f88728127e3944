//! Physically contiguous memory for rings and packet buffers.
//!
//! The platform (corenet's kernel, or a test harness on the host) owns the memory; a driver
//! only sees [`DmaRegion`]s. corenet identity-maps RAM, so `virt` and `phys` are equal in the
//! guest; the driver must still use `phys` for everything it tells the device, so the same code
//! runs where they differ (host tests, an IOMMU).

use core::ptr::NonNull;

/// A physically contiguous, zero-filled region that a device may read and write by DMA.
///
/// Never form a Rust reference to memory the device writes concurrently: read device-written
/// fields through volatile accesses on `virt`.
#[derive(Debug, Clone, Copy)]
pub struct DmaRegion {
    /// Where the CPU reaches the region.
    pub virt: NonNull<u8>,
    /// Where the device reaches the region.
    pub phys: u64,
    /// Length in bytes.
    pub len: usize,
}

impl DmaRegion {
    /// The device address of byte `offset`, or `None` past the end.
    pub fn phys_at(&self, offset: usize) -> Option<u64> {
        (offset < self.len).then(|| self.phys + offset as u64)
    }
}

/// Hands out DMA memory. Implemented by the kernel's per-core pool (hugepage-backed) and by
/// host test harnesses.
pub trait DmaAllocator {
    /// A zero-filled region of at least `len` bytes whose physical address is a multiple of
    /// `align` (a power of two), or `None` when the pool is exhausted.
    fn alloc_dma(&mut self, len: usize, align: usize) -> Option<DmaRegion>;
}
