//! Per-core stacks with guard pages: where each core's main and IST stacks live.
//!
//! One contiguous stack area holds, per core: guard, main stack, then for each of the three
//! IST stacks a guard and the stack. Guards are left unmapped by the page-table plan, so an
//! overflow faults instead of corrupting the neighbour (the fault is reported from an IST
//! stack). Pure arithmetic, tested on the host.

use super::plan::SIZE_4K;

/// Main stack per core. 512 KiB: the NIC bring-up (the virtio-mmio probe builds its queue
/// pairs in about 140 KiB of frames) plus an appliance's own entry came within a few KiB of
/// 256 KiB in `nic-tests` and double-faulted there once; twice that is a margin, not a fit.
pub const MAIN_STACK: u64 = 512 * 1024;
/// Each IST stack (double fault, NMI, machine check).
pub const IST_STACK: u64 = 16 * 1024;
/// IST stacks per core.
pub const IST_COUNT: usize = 3;
/// Bytes of stack area per core.
pub const PER_CORE: u64 = SIZE_4K + MAIN_STACK + IST_COUNT as u64 * (SIZE_4K + IST_STACK);

/// Where one core's stacks are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoreStacks {
    /// Top of the main stack (16-byte aligned, exclusive).
    pub main_top: u64,
    /// Tops of the IST stacks.
    pub ist_tops: [u64; IST_COUNT],
    /// The unmapped guard pages, lowest first.
    pub guards: [u64; 1 + IST_COUNT],
}

/// The stacks of core `core` in an area starting at `base` (page-aligned).
pub fn core_stacks(base: u64, core: usize) -> CoreStacks {
    let b = base + core as u64 * PER_CORE;
    let main_top = b + SIZE_4K + MAIN_STACK;
    let mut ist_tops = [0; IST_COUNT];
    let mut guards = [b; 1 + IST_COUNT];
    for (i, top) in ist_tops.iter_mut().enumerate() {
        let guard = main_top + i as u64 * (SIZE_4K + IST_STACK);
        guards[i + 1] = guard;
        *top = guard + SIZE_4K + IST_STACK;
    }
    CoreStacks {
        main_top,
        ist_tops,
        guards,
    }
}

/// Size of the area for `cores` cores.
pub fn area_size(cores: usize) -> u64 {
    cores as u64 * PER_CORE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stacks_do_not_overlap_and_guards_sit_below_each_stack() {
        let base = 0x80_0000;
        let a = core_stacks(base, 0);
        let b = core_stacks(base, 1);
        assert_eq!(a.guards[0], base);
        assert_eq!(a.main_top - MAIN_STACK, a.guards[0] + SIZE_4K);
        assert_eq!(
            a.ist_tops[2], b.guards[0],
            "core 1 starts where core 0 ends"
        );
        for (i, top) in a.ist_tops.iter().enumerate() {
            assert_eq!(top - IST_STACK, a.guards[i + 1] + SIZE_4K);
        }
        assert_eq!(area_size(2), b.ist_tops[2] - base);
        assert!(a.guards.iter().all(|g| g % SIZE_4K == 0));
    }
}
