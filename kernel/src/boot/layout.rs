//! Boot phases 7-8: the frame allocator, stacks and identity map, then per-core heaps and DMA.
//!
//! The frame allocator is a value here, passed by `&mut` to each step that takes frames (as
//! x86_64's `Mapper` takes a `FrameAllocator`); boot hands it to
//! [`memory::spare`](crate::memory::spare) when these phases are done.

use heapless::Vec;

use super::boot_fail;
use crate::config::Config;
use crate::cpu::{MAX_CORES, features::Features};
use crate::memory::frames::{FrameAllocator, Range};
use crate::memory::paging::{self, MapStats};
use crate::memory::plan::Layout;
use crate::memory::{heap, stacks};

/// Where boot put each core's memory.
#[derive(Debug)]
pub(super) struct Memory {
    /// Start of the stack area (every core's guarded stacks).
    pub stacks_base: u64,
    /// Root of the kernel's page tables.
    pub cr3: u64,
    /// What the identity map holds.
    pub map: MapStats,
    /// Each core's DMA pool (filled by [`per_core`]).
    pub dma_base: Vec<u64, MAX_CORES>,
    /// Free bytes before boot took any frame (for the boot log).
    free_at_start: u64,
}

unsafe extern "C" {
    static __image_start: u8;
    static __image_end: u8;
    static __text_start: u8;
    static __text_end: u8;
    static __rodata_start: u8;
    static __rodata_end: u8;
}

fn sym(s: &u8) -> u64 {
    s as *const u8 as u64
}

/// The kernel image, its text and its read-only data (from the linker script).
fn image() -> (Range, Range, Range) {
    // SAFETY: linker-script symbols; only their addresses are used.
    unsafe {
        (
            Range {
                start: sym(&__image_start),
                end: sym(&__image_end),
            },
            Range {
                start: sym(&__text_start),
                end: sym(&__text_end),
            },
            Range {
                start: sym(&__rodata_start),
                end: sym(&__rodata_end),
            },
        )
    }
}

/// Phase 7: the frame allocator over the memory map (minus low memory and the image), the
/// stack area for `cores` cores, and the final identity map, switched to.
pub(super) fn identity_map(
    boot: &corenet_boot::BootInfo,
    f: &Features,
    cores: usize,
) -> (FrameAllocator, Memory) {
    let (image, text, rodata) = image();
    let mut fa = FrameAllocator::new(&boot.memory, &[image]);
    let free_at_start = fa.free_bytes();
    let stacks_base = fa
        .alloc_below(stacks::area_size(cores), 2 << 20, 1 << 32)
        .unwrap_or_else(|| boot_fail(format_args!("no memory for {cores} cores' stacks")));
    let mut guards: Vec<u64, { MAX_CORES * 4 }> = Vec::new();
    for c in 0..cores {
        let _ = guards.extend_from_slice(&stacks::core_stacks(stacks_base, c).guards);
    }
    let layout = Layout {
        regions: &boot.memory,
        text,
        rodata,
        guards: &guards,
        trampoline: corenet_boot::trampoline::AP_TRAMPOLINE_PHYS,
        huge_1g: f.huge_1g,
    };
    let (cr3, map) = paging::build_and_switch(&mut fa, &layout, f.nx)
        .unwrap_or_else(|e| boot_fail(format_args!("page tables: {e:?}")));
    log::info!(
        "memory: identity map with {} x 1G, {} x 2M, {} x 4K pages ({} tables), largest page {}",
        map.pages_1g,
        map.pages_2m,
        map.pages_4k,
        map.tables,
        if f.huge_1g { "1G" } else { "2M" }
    );
    let memory = Memory {
        stacks_base,
        cr3,
        map,
        dma_base: Vec::new(),
        free_at_start,
    };
    (fa, memory)
}

/// Phase 8: one heap per core (the allocator is usable afterwards) and one DMA pool per core,
/// from 2 MiB-aligned hugepages of `fa`.
pub(super) fn per_core(
    fa: &mut FrameAllocator,
    config: &Config,
    cores: usize,
    mut memory: Memory,
) -> Memory {
    // Leave room for the DMA pools before sizing default heaps from what is free.
    let heap_size = config.heap.unwrap_or_else(|| {
        Config::default_heap(
            fa.free_bytes().saturating_sub(config.dma * cores as u64),
            cores,
        )
    });
    let heap_total = heap_size * cores as u64;
    let heap_base = fa.alloc(heap_total, 2 << 20).unwrap_or_else(|| {
        boot_fail(format_args!(
            "no room for {cores} heaps of {} MiB ({} MiB free): lower heap= or add memory",
            heap_size >> 20,
            fa.free_bytes() >> 20
        ))
    });
    // SAFETY: the range was just taken from the frame allocator (RAM, identity mapped
    // writable); no other core runs yet.
    unsafe { heap::init_heaps(heap_base as usize, heap_size as usize, cores) };
    for c in 0..cores {
        let b = fa.alloc(config.dma, 2 << 20).unwrap_or_else(|| {
            boot_fail(format_args!(
                "no room for core {c}'s DMA pool of {} MiB: lower dma=",
                config.dma >> 20
            ))
        });
        let _ = memory.dma_base.push(b);
    }
    log::info!(
        "memory: {cores} cores x ({} MiB heap + {} MiB DMA) in 2 MiB pages; {} of {} MiB left free",
        heap_size >> 20,
        config.dma >> 20,
        fa.free_bytes() >> 20,
        memory.free_at_start >> 20
    );
    memory
}
