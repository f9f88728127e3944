//! Builds the kernel's page tables from the plan and switches to them.
//!
//! Table frames come from the frame allocator below 4 GiB (the boot tables map only 4 GiB,
//! and the AP trampoline loads CR3 from 32-bit code). The x86_64 crate supplies the entry
//! and flag types; the walk is ours because the plan already decides page sizes.

use x86_64::PhysAddr;
use x86_64::registers::control::{Cr3, Cr3Flags};
use x86_64::registers::model_specific::{Efer, EferFlags};
use x86_64::structures::paging::{PageTable, PageTableFlags as F, PhysFrame};

use super::frames::FrameAllocator;
use super::plan::{Kind, Layout, SIZE_1G, SIZE_2M, SIZE_4K, plan};

/// Counts of pages mapped, by size (for the boot log and the in-guest tests).
#[derive(Debug, Default, Clone, Copy)]
pub struct MapStats {
    /// 1 GiB pages.
    pub pages_1g: usize,
    /// 2 MiB pages.
    pub pages_2m: usize,
    /// 4 KiB pages.
    pub pages_4k: usize,
    /// Page-table frames used.
    pub tables: usize,
}

/// Errors building the tables.
#[derive(Debug, Clone, Copy)]
pub enum PagingError {
    /// No frame below 4 GiB for a page table.
    OutOfFrames,
}

impl core::fmt::Display for PagingError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::OutOfFrames => f.write_str("no frame below 4 GiB left for a page table"),
        }
    }
}

impl core::error::Error for PagingError {}

fn flags(kind: Kind, nx: bool) -> F {
    let nx = if nx { F::NO_EXECUTE } else { F::empty() };
    match kind {
        Kind::Text => F::PRESENT,
        Kind::Rodata => F::PRESENT | nx,
        Kind::Memory => F::PRESENT | F::WRITABLE | nx,
        Kind::Device => F::PRESENT | F::WRITABLE | F::NO_CACHE | F::WRITE_THROUGH | nx,
        Kind::Trampoline => F::PRESENT | F::WRITABLE,
    }
}

struct Builder<'a> {
    fa: &'a mut FrameAllocator,
    root: u64,
    stats: MapStats,
    failed: bool,
}

impl Builder<'_> {
    fn new_table(&mut self) -> Option<u64> {
        let f = self.fa.alloc_below(SIZE_4K, SIZE_4K, 1 << 32)?;
        // SAFETY: the frame was just allocated (no one else uses it) and lies below 4 GiB,
        // which the active (boot) tables identity map; zeroing makes it an empty table.
        unsafe { core::ptr::write_bytes(f as *mut u8, 0, SIZE_4K as usize) };
        self.stats.tables += 1;
        Some(f)
    }

    /// The table that entry `idx` of the table at `table` points to, created on demand.
    fn next(&mut self, table: u64, idx: usize) -> Option<u64> {
        // SAFETY: `table` is one of our page-table frames (identity mapped, exclusively ours
        // while building; not yet in CR3).
        let t = unsafe { &mut *(table as *mut PageTable) };
        if t[idx].is_unused() {
            let n = self.new_table()?;
            t[idx].set_addr(PhysAddr::new(n), F::PRESENT | F::WRITABLE);
        }
        Some(t[idx].addr().as_u64())
    }

    fn map(&mut self, addr: u64, size: u64, f: F) {
        if self.failed {
            return;
        }
        let i4 = ((addr >> 39) & 511) as usize;
        let i3 = ((addr >> 30) & 511) as usize;
        let i2 = ((addr >> 21) & 511) as usize;
        let i1 = ((addr >> 12) & 511) as usize;
        let done = (|| {
            let pdpt = self.next(self.root, i4)?;
            let (table, idx, extra) = if size == SIZE_1G {
                self.stats.pages_1g += 1;
                (pdpt, i3, F::HUGE_PAGE)
            } else {
                let pd = self.next(pdpt, i3)?;
                if size == SIZE_2M {
                    self.stats.pages_2m += 1;
                    (pd, i2, F::HUGE_PAGE)
                } else {
                    self.stats.pages_4k += 1;
                    (self.next(pd, i2)?, i1, F::empty())
                }
            };
            // SAFETY: as in `next`.
            let t = unsafe { &mut *(table as *mut PageTable) };
            t[idx].set_addr(PhysAddr::new(addr), f | extra);
            Some(())
        })();
        self.failed |= done.is_none();
    }
}

/// Builds the identity map the plan describes and loads it into CR3 (enabling NX first when
/// the CPU has it). Returns the root's physical address and what was mapped.
pub fn build_and_switch(
    fa: &mut FrameAllocator,
    layout: &Layout<'_>,
    nx: bool,
) -> Result<(u64, MapStats), PagingError> {
    let mut b = Builder {
        fa,
        root: 0,
        stats: MapStats::default(),
        failed: false,
    };
    b.root = b.new_table().ok_or(PagingError::OutOfFrames)?;
    plan(layout, &mut |a, s, k| b.map(a, s, flags(k, nx)));
    if b.failed {
        return Err(PagingError::OutOfFrames);
    }
    if nx {
        // SAFETY: the CPU supports NX (CPUID); enabling it before loading tables that use
        // the NX bit is required (it is a reserved bit otherwise).
        unsafe { Efer::update(|e| e.insert(EferFlags::NO_EXECUTE_ENABLE)) };
    }
    let root = b.root;
    // SAFETY: the new tables identity map all memory the kernel uses (image, stacks, heaps,
    // boot structures) with the same addresses as the boot tables, so execution continues.
    unsafe {
        Cr3::write(
            PhysFrame::containing_address(PhysAddr::new(root)),
            Cr3Flags::empty(),
        )
    };
    Ok((root, b.stats))
}

/// Page size and flags that translate `addr` in the active tables (for tests and
/// diagnostics); `None` when unmapped.
pub fn translate(addr: u64) -> Option<(u64, F)> {
    let (frame, _) = Cr3::read();
    let mut table = frame.start_address().as_u64();
    for (level, shift) in [(4, 39), (3, 30), (2, 21), (1, 12)] {
        // SAFETY: page tables are identity mapped and never freed; reading an entry has no
        // side effects.
        let t = unsafe { &*(table as *const PageTable) };
        let e = &t[((addr >> shift) & 511) as usize];
        if !e.flags().contains(F::PRESENT) {
            return None;
        }
        if level == 1 || e.flags().contains(F::HUGE_PAGE) {
            return Some((1 << shift, e.flags()));
        }
        table = e.addr().as_u64();
    }
    None
}

/// Maps device memory `[phys, phys + len)` identity, uncached, where nothing is mapped yet
/// (e.g. a 64-bit PCI BAR that firmware placed above the identity map). Uses 2 MiB pages and
/// table frames from `fa`. Only new entries are written, so other cores need no TLB shootdown
/// (x86 never caches non-present translations).
pub fn map_mmio(fa: &mut FrameAllocator, phys: u64, len: u64) -> Result<(), PagingError> {
    let (frame, _) = Cr3::read();
    let mut b = Builder {
        fa,
        root: frame.start_address().as_u64(),
        stats: MapStats::default(),
        failed: false,
    };
    let nx = crate::cpu::features::get().nx;
    let start = phys & !(SIZE_2M - 1);
    let end = phys.saturating_add(len).div_ceil(SIZE_2M) * SIZE_2M;
    let mut a = start;
    while a < end {
        if translate(a).is_none() {
            b.map(a, SIZE_2M, flags(Kind::Device, nx));
        }
        a += SIZE_2M;
    }
    if b.failed {
        Err(PagingError::OutOfFrames)
    } else {
        Ok(())
    }
}
