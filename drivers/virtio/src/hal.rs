//! virtio-drivers' `Hal` over corenet's identity-mapped DMA memory.
//!
//! corenet's kernel contract: RAM and device MMIO are identity-mapped (`virt == phys`), and DMA
//! memory comes from a `DmaAllocator`. virtio-drivers' `Hal` has no `self`, so the allocator is
//! reached through a [`GlobalDma`] type the kernel implements over its pool (a static). Only
//! `PciTransport::new` (BAR mapping) needs a `Hal`: our queues take memory from the allocator
//! handed to `VirtioNet::new` directly.
#![allow(unsafe_code)]

use core::marker::PhantomData;
use core::ptr::NonNull;
use corenet_nic::DmaAllocator;
use virtio_drivers::{BufferDirection, Hal, PAGE_SIZE, PhysAddr};

/// Static access to a DMA allocator, for `Hal`'s associated functions.
pub trait GlobalDma {
    /// Runs `f` with the allocator (the implementation serializes access, e.g. a spin lock).
    fn with<R>(f: impl FnOnce(&mut dyn DmaAllocator) -> R) -> R;
}

/// `Hal` for identity-mapped memory, allocating from `G`. DMA pages are never freed
/// (`dma_dealloc` leaks): corenet's pools are set up once and live as long as the kernel.
#[derive(Debug)]
pub struct IdentityHal<G>(PhantomData<G>);

// SAFETY: `dma_alloc` returns zeroed, page-aligned memory from the allocator (whose regions are
// exclusively ours and never reused, since nothing is freed), with `phys` as the device address;
// `mmio_phys_to_virt` and `share` rely on the kernel's identity mapping (virt == phys) for MMIO and
// for all RAM a driver buffer may live in.
unsafe impl<G: GlobalDma> Hal for IdentityHal<G> {
    fn dma_alloc(pages: usize, _direction: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        match G::with(|a| a.alloc_dma(pages * PAGE_SIZE, PAGE_SIZE)) {
            Some(r) if r.len >= pages * PAGE_SIZE => (r.phys, r.virt),
            // virtio-drivers treats paddr 0 as allocation failure (`Error::DmaError`).
            _ => (0, NonNull::dangling()),
        }
    }

    unsafe fn dma_dealloc(_paddr: PhysAddr, _vaddr: NonNull<u8>, _pages: usize) -> i32 {
        0
    }

    unsafe fn mmio_phys_to_virt(paddr: PhysAddr, _size: usize) -> NonNull<u8> {
        NonNull::new(paddr as usize as *mut u8).unwrap_or(NonNull::dangling())
    }

    unsafe fn share(buffer: NonNull<[u8]>, _direction: BufferDirection) -> PhysAddr {
        buffer.as_ptr().cast::<u8>() as usize as PhysAddr
    }

    unsafe fn unshare(_paddr: PhysAddr, _buffer: NonNull<[u8]>, _direction: BufferDirection) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeDma;
    extern crate std;
    use std::cell::RefCell;

    std::thread_local! {
        static POOL: RefCell<FakeDma> = RefCell::new(FakeDma::with_budget(3 * PAGE_SIZE));
    }
    struct TestPool;
    impl GlobalDma for TestPool {
        fn with<R>(f: impl FnOnce(&mut dyn DmaAllocator) -> R) -> R {
            POOL.with(|p| f(&mut *p.borrow_mut()))
        }
    }

    #[test]
    fn allocates_from_the_pool_and_reports_exhaustion() {
        type H = IdentityHal<TestPool>;
        let (p, v) = H::dma_alloc(2, BufferDirection::Both);
        assert_eq!(p, v.as_ptr() as u64 + crate::fake::PHYS_OFFSET);
        assert_eq!(p % PAGE_SIZE as u64, 0);
        assert_eq!(H::dma_alloc(2, BufferDirection::Both).0, 0);
        let mut b = [1u8, 2, 3];
        // SAFETY: `b` is a valid buffer for the call.
        let s = unsafe { H::share(NonNull::from(&mut b[..]), BufferDirection::DriverToDevice) };
        assert_eq!(s, b.as_ptr() as u64);
    }
}
