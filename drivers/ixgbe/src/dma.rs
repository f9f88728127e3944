//! Volatile access to DMA memory (descriptor rings, packet buffers): the only module that
//! dereferences pointers the device also writes.
//!
//! A [`DmaMem`] wraps a [`corenet_nic::DmaRegion`]. Descriptor fields are read and written
//! with single volatile accesses so the compiler neither merges nor drops them; packet buffers
//! are exposed as slices only while software owns them (the device was not handed them, or has
//! handed them back), which is when no DMA can touch them.

use corenet_nic::DmaRegion;

/// A DMA region the driver owns, with bounds-checked volatile accessors.
#[derive(Debug)]
pub struct DmaMem {
    region: DmaRegion,
}

impl DmaMem {
    /// Takes ownership of a region handed out by a [`corenet_nic::DmaAllocator`].
    ///
    /// The allocator's contract (a zero-filled region valid for `len` bytes, reachable by the
    /// device at `phys`, owned by the caller) is what makes the accessors sound. `DmaAllocator`
    /// is a safe trait, so this trusts every implementation to keep that contract.
    pub fn new(region: DmaRegion) -> Self {
        Self { region }
    }

    /// Device address of the region's start.
    #[inline]
    pub fn phys(&self) -> u64 {
        self.region.phys
    }

    /// Length in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        self.region.len
    }

    /// Whether the region is empty.
    pub fn is_empty(&self) -> bool {
        self.region.len == 0
    }

    #[inline]
    fn ptr<T>(&self, offset: usize) -> Option<*mut T> {
        let size = core::mem::size_of::<T>();
        (offset.is_multiple_of(size) && offset.checked_add(size)? <= self.region.len)
            .then(|| self.region.virt.as_ptr().wrapping_add(offset).cast::<T>())
    }

    /// Volatile read of the little-endian u32 at `offset`; 0 when out of bounds or unaligned.
    #[inline]
    pub fn read_u32(&self, offset: usize) -> u32 {
        match self.ptr::<u32>(offset) {
            // SAFETY: in bounds of the region and aligned (checked by `ptr`; the region's
            // base is at least 16-aligned, as every allocation here asks); the region is valid
            // memory by the allocator's contract.
            Some(p) => u32::from_le(unsafe { p.read_volatile() }),
            None => 0,
        }
    }

    /// Volatile write of a little-endian u32 at `offset`; ignored when out of bounds.
    #[inline]
    pub fn write_u32(&self, offset: usize, value: u32) {
        if let Some(p) = self.ptr::<u32>(offset) {
            // SAFETY: as in `read_u32`.
            unsafe { p.write_volatile(value.to_le()) }
        }
    }

    /// Volatile write of a little-endian u64 at `offset`; ignored when out of bounds.
    #[inline]
    pub fn write_u64(&self, offset: usize, value: u64) {
        if let Some(p) = self.ptr::<u64>(offset) {
            // SAFETY: as in `read_u32`.
            unsafe { p.write_volatile(value.to_le()) }
        }
    }

    /// The bytes `offset..offset + len`, empty when out of bounds.
    ///
    /// Callers only ask for buffers software owns (the device is not reading or writing them),
    /// so a shared reference is sound for as long as that ownership lasts; the borrow of
    /// `self` ties the slice to the driver value that tracks it.
    #[inline]
    pub fn bytes(&self, offset: usize, len: usize) -> &[u8] {
        match offset.checked_add(len) {
            Some(end) if end <= self.region.len => {
                // SAFETY: in bounds; the memory is valid; no device access to this range is
                // outstanding (callers' ownership rule above) and no `&mut` to it exists while
                // `self` is shared.
                unsafe { core::slice::from_raw_parts(self.region.virt.as_ptr().add(offset), len) }
            }
            _ => &[],
        }
    }

    /// Mutable bytes `offset..offset + len`, empty when out of bounds. Same ownership rule as
    /// [`bytes`](Self::bytes).
    #[inline]
    pub fn bytes_mut(&mut self, offset: usize, len: usize) -> &mut [u8] {
        match offset.checked_add(len) {
            Some(end) if end <= self.region.len => {
                // SAFETY: in bounds; the memory is valid; software owns the range (no DMA
                // outstanding) and `&mut self` makes this the only reference into the region.
                unsafe {
                    core::slice::from_raw_parts_mut(self.region.virt.as_ptr().add(offset), len)
                }
            }
            _ => &mut [],
        }
    }
}

// SAFETY: a `DmaMem` is the sole owner of its region (allocator contract), and its memory is
// plain RAM that any core may access; moving the owner to another core moves that ownership.
unsafe impl Send for DmaMem {}
