//! Fixed-size packet buffers in one DMA region: buffer `i` belongs to descriptor `i`.
#![allow(unsafe_code)]

use corenet_nic::DmaRegion;

/// Bytes per buffer: a 20-byte virtio-net header plus a 1514-byte frame, rounded up so buffers
/// never straddle a 2 KiB boundary.
pub const BUF_SIZE: usize = 2048;

/// `count` buffers of [`BUF_SIZE`] bytes.
#[derive(Debug)]
pub(crate) struct Buffers {
    virt: *mut u8,
    phys: u64,
    count: u16,
}

impl Buffers {
    /// # Safety
    ///
    /// `region` must come from a `DmaAllocator` (valid, zeroed, exclusively ours for the
    /// buffers' lifetime) and be at least `count * BUF_SIZE` bytes long.
    pub(crate) unsafe fn new(region: DmaRegion, count: u16) -> Self {
        debug_assert!(region.len >= usize::from(count) * BUF_SIZE);
        Self {
            virt: region.virt.as_ptr(),
            phys: region.phys,
            count,
        }
    }

    /// Device address of buffer `id`.
    #[inline]
    pub(crate) fn phys(&self, id: u16) -> u64 {
        self.phys + u64::from(id) * BUF_SIZE as u64
    }

    /// Bytes `[off, off + len)` of buffer `id`, or an empty slice if out of range.
    ///
    /// The caller must own the buffer (not posted to the device): ownership is tracked by the
    /// queue, which only calls this for buffers in its own hands.
    #[inline]
    pub(crate) fn slice(&self, id: u16, off: usize, len: usize) -> &[u8] {
        if id >= self.count || off + len > BUF_SIZE {
            return &[];
        }
        // SAFETY: in bounds of buffer `id` (checked above) inside the region (`new`); the buffer
        // is not posted, so the device has handed it back and an honest device no longer writes
        // it (a hostile one could, which only changes the bytes we read: integers, no invariant).
        unsafe { core::slice::from_raw_parts(self.virt.add(usize::from(id) * BUF_SIZE + off), len) }
    }

    /// Mutable version of [`slice`](Self::slice).
    #[inline]
    pub(crate) fn slice_mut(&mut self, id: u16, off: usize, len: usize) -> &mut [u8] {
        if id >= self.count || off + len > BUF_SIZE {
            return &mut [];
        }
        // SAFETY: as in `slice`; `&mut self` gives exclusivity among CPU users.
        unsafe {
            core::slice::from_raw_parts_mut(self.virt.add(usize::from(id) * BUF_SIZE + off), len)
        }
    }
}
