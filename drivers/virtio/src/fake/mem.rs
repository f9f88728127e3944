//! Fake DMA memory (phys = virt + offset) and fake doorbell registers.
#![allow(unsafe_code)]

extern crate std;

use core::ptr::NonNull;
use corenet_nic::{DmaAllocator, DmaRegion};
use std::alloc::Layout;
use std::vec::Vec;
use virtio_drivers::transport::Transport;

/// `phys - virt` of every fake DMA region.
pub const PHYS_OFFSET: u64 = 0x1000_0000_0000;

/// Host memory standing in for the kernel's DMA pool.
#[derive(Debug, Default)]
pub struct FakeDma {
    regions: Vec<(NonNull<u8>, Layout)>,
    /// Bytes still available; `None` = unlimited.
    pub budget: Option<usize>,
}

impl FakeDma {
    /// An allocator that fails once `bytes` have been handed out.
    pub fn with_budget(bytes: usize) -> Self {
        Self {
            regions: Vec::new(),
            budget: Some(bytes),
        }
    }
}

impl DmaAllocator for FakeDma {
    fn alloc_dma(&mut self, len: usize, align: usize) -> Option<DmaRegion> {
        if let Some(b) = self.budget.as_mut() {
            *b = b.checked_sub(len)?;
        }
        let layout = Layout::from_size_align(len.max(1), align).ok()?;
        // SAFETY: non-zero size.
        let p = NonNull::new(unsafe { std::alloc::alloc_zeroed(layout) })?;
        self.regions.push((p, layout));
        Some(DmaRegion {
            virt: p,
            phys: p.as_ptr() as u64 + PHYS_OFFSET,
            len,
        })
    }
}

impl Drop for FakeDma {
    fn drop(&mut self) {
        for (p, l) in self.regions.drain(..) {
            // SAFETY: allocated in `alloc_dma` with this layout, freed once.
            unsafe { std::alloc::dealloc(p.as_ptr(), l) }
        }
    }
}

pub(super) fn p2v(phys: u64) -> *mut u8 {
    (phys - PHYS_OFFSET) as *mut u8
}

pub(super) fn rd<T: Copy>(phys: u64) -> T {
    // SAFETY: test-only device: `phys` is inside a FakeDma region the driver gave us.
    unsafe { p2v(phys).cast::<T>().read_volatile() }
}

pub(super) fn wr<T: Copy>(phys: u64, v: T) {
    // SAFETY: as in `rd`.
    unsafe { p2v(phys).cast::<T>().write_volatile(v) }
}

/// Doorbells for the fake device: one 32-bit register per queue in leaked host memory (test
/// only), so tests can see which queues were rung.
#[derive(Debug, Clone, Copy)]
pub struct FakeNotify {
    regs: NonNull<u32>,
}

/// Registers in a [`FakeNotify`].
const FAKE_NOTIFY_REGS: usize = 64;

impl Default for FakeNotify {
    fn default() -> Self {
        let regs: &'static mut [u32; FAKE_NOTIFY_REGS] =
            std::boxed::Box::leak(std::boxed::Box::new([u32::MAX; FAKE_NOTIFY_REGS]));
        Self {
            regs: NonNull::from(regs).cast(),
        }
    }
}

impl FakeNotify {
    /// The value last written to queue `q`'s doorbell (`u32::MAX` if never).
    pub fn rung(&self, q: u16) -> u32 {
        assert!(usize::from(q) < FAKE_NOTIFY_REGS);
        // SAFETY: inside the leaked array, which lives forever.
        unsafe { self.regs.as_ptr().add(usize::from(q)).read_volatile() }
    }
}

impl<T: Transport> crate::doorbell::NotifyMap<T> for FakeNotify {
    fn doorbell(
        &mut self,
        _transport: &mut T,
        queue: u16,
    ) -> Result<crate::doorbell::Doorbell, crate::doorbell::DoorbellError> {
        if usize::from(queue) >= FAKE_NOTIFY_REGS {
            return Err(crate::doorbell::DoorbellError::OutOfRange {
                queue,
                offset: usize::from(queue) * 4,
            });
        }
        // SAFETY: inside the leaked array (never freed), 4-byte aligned.
        Ok(unsafe {
            crate::doorbell::Doorbell::new(self.regs.add(usize::from(queue)).cast(), queue, true)
        })
    }
}
