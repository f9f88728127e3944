//! Physical memory: frame allocator, the identity map, stacks, per-core heaps and DMA pools.
//!
//! Boot order: [`frames`] over the memory map -> [`plan`] + [`paging`] build the identity map
//! with hugepages -> [`stacks`] carve guarded stacks -> [`heap`] and [`dma`] give each core
//! its own hugepage-backed memory; [`classes`] recycles a heap's small blocks in O(1). Boot then
//! hands the frame allocator to [`spare`], its only owner afterwards (slow-path allocations).

pub mod classes;
#[cfg(target_os = "none")]
pub mod dma;
pub mod frames;
#[cfg(target_os = "none")]
pub mod heap;
#[cfg(target_os = "none")]
pub mod paging;
pub mod plan;
#[cfg(target_os = "none")]
pub mod spare;
pub mod stacks;
