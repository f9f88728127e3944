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
    /// is a safe trait, so this trusts every implementation to keep that contract; it is
    /// crate-private so no other code can wrap an arbitrary pointer.
    pub(crate) fn new(region: DmaRegion) -> Self {
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

/// A ring of 16-byte descriptors at the start of a [`DmaMem`], indexed modulo its size.
///
/// The constructor checks once that every descriptor lies inside the region; after that an
/// index is masked into the ring and a field offset into the descriptor, so every access is in
/// bounds by construction and the per-packet path pays no bounds checks.
#[derive(Debug)]
pub struct DescRing {
    mem: DmaMem,
    mask: u16,
}

impl DescRing {
    /// `size` descriptors (a power of two) at the start of `mem`; `None` if they do not fit
    /// or the region is not 16-byte aligned.
    pub fn new(mem: DmaMem, size: u16) -> Option<Self> {
        let fits = size.is_power_of_two()
            && (size as usize) * crate::desc::DESC_SIZE <= mem.len()
            && (mem.region.virt.as_ptr() as usize).is_multiple_of(16);
        fits.then_some(Self {
            mem,
            mask: size - 1,
        })
    }

    /// The whole region (for words stored after the descriptors).
    pub fn mem(&self) -> &DmaMem {
        &self.mem
    }

    /// A copyable view for hot loops (base and mask in registers, not reloaded through
    /// `self` after every volatile access).
    #[inline(always)]
    pub fn view(&self) -> RingView<'_> {
        RingView {
            base: self.mem.region.virt.as_ptr(),
            mask: self.mask,
            _ring: core::marker::PhantomData,
        }
    }

    /// Volatile read of the u32 at byte `field` (rounded down to 4) of descriptor `idx`.
    #[inline(always)]
    pub fn read_u32(&self, idx: u16, field: usize) -> u32 {
        self.view().read_u32(idx, field)
    }

    /// Volatile write of the u32 at byte `field` (rounded down to 4) of descriptor `idx`.
    #[inline(always)]
    pub fn write_u32(&self, idx: u16, field: usize, value: u32) {
        self.view().write_u32(idx, field, value)
    }

    /// Volatile write of the u64 at byte `field` (0 or 8) of descriptor `idx`.
    #[inline(always)]
    pub fn write_u64(&self, idx: u16, field: usize, value: u64) {
        self.view().write_u64(idx, field, value)
    }
}

/// A borrowed view of a [`DescRing`]: the same masked, always-in-bounds accessors.
#[derive(Debug, Clone, Copy)]
pub struct RingView<'a> {
    base: *mut u8,
    mask: u16,
    _ring: core::marker::PhantomData<&'a DescRing>,
}

impl RingView<'_> {
    #[inline(always)]
    fn at(self, idx: u16, offset: usize) -> *mut u8 {
        let byte = usize::from(idx & self.mask) * crate::desc::DESC_SIZE + (offset & 0xF);
        self.base.wrapping_add(byte)
    }

    /// Volatile read of the u32 at byte `field` (rounded down to 4) of descriptor `idx`.
    #[inline(always)]
    pub fn read_u32(self, idx: u16, field: usize) -> u32 {
        let p = self.at(idx, field & 0xC).cast::<u32>();
        // SAFETY: the view borrows a `DescRing`, whose constructor checked that `mask + 1`
        // descriptors fit its region and that the region is 16-byte aligned; `at` masks the
        // index below `mask + 1` and the offset below 16, 4-aligned.
        u32::from_le(unsafe { p.read_volatile() })
    }

    /// Volatile write of the u32 at byte `field` (rounded down to 4) of descriptor `idx`.
    #[inline(always)]
    pub fn write_u32(self, idx: u16, field: usize, value: u32) {
        let p = self.at(idx, field & 0xC).cast::<u32>();
        // SAFETY: as in `read_u32`.
        unsafe { p.write_volatile(value.to_le()) }
    }

    /// Volatile write of the u64 at byte `field` (0 or 8) of descriptor `idx`.
    #[inline(always)]
    pub fn write_u64(self, idx: u16, field: usize, value: u64) {
        let p = self.at(idx, field & 0x8).cast::<u64>();
        // SAFETY: as in `read_u32`, with the offset 0 or 8 and so 8-aligned.
        unsafe { p.write_volatile(value.to_le()) }
    }
}

/// `count` packet buffers of [`crate::rx::BUF_SIZE`] bytes each, back to back in one region.
#[derive(Debug)]
pub struct BufPool {
    mem: DmaMem,
    count: u16,
}

impl BufPool {
    /// `count` buffers at the start of `mem`; `None` if they do not fit.
    pub fn new(mem: DmaMem, count: u16) -> Option<Self> {
        ((count as usize) * crate::rx::BUF_SIZE <= mem.len()).then_some(Self { mem, count })
    }

    /// Device address of buffer `idx` (which the caller keeps below `count`).
    #[inline(always)]
    pub fn phys(&self, idx: u16) -> u64 {
        self.mem.phys() + u64::from(idx) * crate::rx::BUF_SIZE as u64
    }

    /// The first `len` bytes of buffer `idx`, empty if `idx` or `len` is out of range.
    /// Same ownership rule as [`DmaMem::bytes`].
    #[inline(always)]
    pub fn bytes(&self, idx: u16, len: usize) -> &[u8] {
        if idx >= self.count || len > crate::rx::BUF_SIZE {
            return &[];
        }
        let p = self
            .mem
            .region
            .virt
            .as_ptr()
            .wrapping_add(usize::from(idx) * crate::rx::BUF_SIZE);
        // SAFETY: buffer `idx` lies inside the region (`new` checked `count` buffers fit) and
        // `len` is within it; software owns the buffer (caller's rule), so no DMA writes it.
        unsafe { core::slice::from_raw_parts(p, len) }
    }

    /// All bytes of buffer `idx` mutably, empty if out of range. Same rule as
    /// [`DmaMem::bytes_mut`].
    #[inline(always)]
    pub fn bytes_mut(&mut self, idx: u16) -> &mut [u8] {
        if idx >= self.count {
            return &mut [];
        }
        let p = self
            .mem
            .region
            .virt
            .as_ptr()
            .wrapping_add(usize::from(idx) * crate::rx::BUF_SIZE);
        // SAFETY: in bounds as in `bytes`; `&mut self` makes this the only reference into the
        // pool, and software owns the buffer.
        unsafe { core::slice::from_raw_parts_mut(p, crate::rx::BUF_SIZE) }
    }
}

// SAFETY: a `DmaMem` is the sole owner of its region (allocator contract), and its memory is
// plain RAM that any core may access; moving the owner to another core moves that ownership.
unsafe impl Send for DmaMem {}
