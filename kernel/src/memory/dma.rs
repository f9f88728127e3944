//! Per-core DMA memory: physically contiguous, hugepage-backed, owned by one core.
//!
//! Each core gets its pool (2 MiB-aligned hugepages from the frame allocator) at boot and
//! carves rings and packet buffers from it without locks. Memory is identity mapped
//! write-back (virtio and the 82599 snoop the CPU caches on x86), so `virt == phys`.

use core::ptr::NonNull;

use super::frames::FrameAllocator;

/// A core's DMA pool: a bump allocator over its hugepages.
#[derive(Debug)]
pub struct DmaPool {
    start: u64,
    next: u64,
    end: u64,
}

/// One allocation from a [`DmaPool`].
#[derive(Debug, Clone, Copy)]
pub struct DmaChunk {
    /// CPU address.
    pub virt: NonNull<u8>,
    /// Device address (equal to `virt` under corenet's identity map).
    pub phys: u64,
    /// Length in bytes.
    pub len: usize,
}

impl DmaPool {
    /// A pool over `[start, start + len)`.
    ///
    /// # Safety
    /// The range must be RAM, identity mapped writable, and owned by this pool alone.
    pub const unsafe fn new(start: u64, len: u64) -> Self {
        Self {
            start,
            next: start,
            end: start + len,
        }
    }

    /// An empty pool (for cores given no DMA memory).
    pub const fn empty() -> Self {
        Self {
            start: 0,
            next: 0,
            end: 0,
        }
    }

    /// `len` zeroed bytes at a multiple of `align` (a power of two), or `None` when the pool
    /// is exhausted. Memory is never returned: drivers allocate their rings and buffers once.
    pub fn alloc(&mut self, len: usize, align: usize) -> Option<DmaChunk> {
        if len == 0 || !align.is_power_of_two() {
            return None;
        }
        let start = self.next.checked_add(align as u64 - 1)? & !(align as u64 - 1);
        let end = start.checked_add(len as u64)?;
        if end > self.end {
            return None;
        }
        self.next = end;
        // SAFETY: `[start, end)` lies inside the pool, which the pool owns exclusively and which is
        // mapped writable (constructor contract); it was never handed out before.
        unsafe { core::ptr::write_bytes(start as *mut u8, 0, len) };
        Some(DmaChunk {
            virt: NonNull::new(start as *mut u8)?,
            phys: start,
            len,
        })
    }

    /// Bytes still free.
    pub fn remaining(&self) -> u64 {
        self.end - self.next
    }

    /// Total bytes.
    pub fn capacity(&self) -> u64 {
        self.end - self.start
    }
}

/// A new pool of `bytes` (rounded up to 2 MiB) from `fa`, for the core that will own it.
pub fn carve_pool(fa: &mut FrameAllocator, bytes: u64) -> Option<DmaPool> {
    let len = bytes.div_ceil(2 << 20) * (2 << 20);
    let base = fa.alloc(len, 2 << 20)?;
    // SAFETY: the range was just taken from the frame allocator: RAM, identity mapped
    // write-back and writable, owned by nobody else from now on.
    Some(unsafe { DmaPool::new(base, len) })
}
