//! The frames boot left free, kept for slow-path allocations after boot.
//!
//! Boot owns the [`FrameAllocator`] while it lays out memory and passes it by `&mut` to
//! [`paging`] and [`dma`]; when it is done it hands the allocator
//! over here, once (`hand_over`). From then on this module alone owns it: NIC bring-up (any
//! core, in the appliance's `init`) takes more DMA memory or maps a device BAR through the
//! functions below, which lock it for the one call.

use spin::Mutex;

use super::dma::{self, DmaPool};
use super::frames::FrameAllocator;
use super::paging::{self, PagingError};

/// `None` until boot hands the allocator over.
static SPARE: Mutex<Option<FrameAllocator>> = Mutex::new(None);

/// Boot's last memory step: the allocator with every frame boot did not take.
pub(crate) fn hand_over(fa: FrameAllocator) {
    *SPARE.lock() = Some(fa);
}

/// A new DMA pool of `bytes` (rounded up to 2 MiB) for the core that will own it; `None` when
/// memory is exhausted (or before boot handed the frames over).
pub fn carve_pool(bytes: u64) -> Option<DmaPool> {
    dma::carve_pool(SPARE.lock().as_mut()?, bytes)
}

/// Maps device memory `[phys, phys + len)` identity and uncached where nothing is mapped yet
/// (see [`paging::map_mmio`]).
pub fn map_mmio(phys: u64, len: u64) -> Result<(), PagingError> {
    let mut guard = SPARE.lock();
    let fa = guard.as_mut().ok_or(PagingError::OutOfFrames)?;
    paging::map_mmio(fa, phys, len)
}
