//! The in-guest tests: memory map, allocator, clock, CPU features, DMA, per-core data.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use corenet::Core;
use corenet::raw::kernel::cpu::{self, features};
use corenet::raw::kernel::machine::machine;
use corenet::raw::kernel::memory::paging::translate;
use corenet::raw::kernel::memory::plan::{SIZE_1G, SIZE_2M, SIZE_4K};
use corenet::raw::kernel::memory::stacks;
use corenet::raw::kernel::rand::RandomSource;
use x86_64::structures::paging::PageTableFlags as F;

use crate::harness::TestFn;
use crate::{check, fail};

type R = Result<(), String>;

/// Every test, in order.
pub const ALL: &[(&str, TestFn)] = &[
    ("core_ids_and_percpu", core_ids_and_percpu),
    ("page_permissions", page_permissions),
    ("page_sizes_follow_cpuid", page_sizes_follow_cpuid),
    ("stack_guard_pages_unmapped", stack_guard_pages_unmapped),
    ("heap_hammer_all_cores", heap_hammer_all_cores),
    ("cross_core_free", cross_core_free),
    ("dma_pool", dma_pool),
    ("clock_monotonic_per_core", clock_monotonic_per_core),
    ("clock_monotonic_across_cores", clock_monotonic_across_cores),
    ("random_source_follows_cpuid", random_source_follows_cpuid),
    ("machine_description_complete", machine_description_complete),
];

static TEXT_PROBE: u8 = 0;
static mut DATA_PROBE: u64 = 1;

fn core_ids_and_percpu(core: &mut Core) -> R {
    check!(
        cpu::core_id() == core.id(),
        "gs-based core id {} != {}",
        cpu::core_id(),
        core.id()
    );
    check!(
        core.count() == machine().cores,
        "count {} != {}",
        core.count(),
        machine().cores
    );
    let mine = cpu::percpu(core.id()).apic_id.load(Ordering::Relaxed);
    for other in 0..core.count() {
        if other != core.id() && cpu::percpu(other).apic_id.load(Ordering::Relaxed) == mine {
            fail!("APIC id {mine} shared by cores {} and {other}", core.id());
        }
    }
    Ok(())
}

fn page_permissions(core: &mut Core) -> R {
    if core.id() != 0 {
        return Ok(());
    }
    let nx = features::get().nx;
    let code = page_permissions as *const () as u64;
    let (_, f) = translate(code).ok_or_else(|| msg("code unmapped"))?;
    check!(!f.contains(F::WRITABLE), "code page writable: {f:?}");
    check!(!f.contains(F::NO_EXECUTE), "code page no-execute: {f:?}");
    let ro = core::ptr::addr_of!(TEXT_PROBE) as u64;
    let (_, f) = translate(ro).ok_or_else(|| msg("rodata unmapped"))?;
    check!(!f.contains(F::WRITABLE), "rodata writable: {f:?}");
    check!(
        f.contains(F::NO_EXECUTE) == nx,
        "rodata NX={} with CPU NX={nx}",
        f.contains(F::NO_EXECUTE)
    );
    let data = core::ptr::addr_of!(DATA_PROBE) as u64;
    let (_, f) = translate(data).ok_or_else(|| msg("data unmapped"))?;
    check!(f.contains(F::WRITABLE), "data not writable");
    check!(f.contains(F::NO_EXECUTE) == nx, "data NX mismatch");
    let heap = Box::new(5u64);
    let (size, f) = translate(&*heap as *const u64 as u64).ok_or_else(|| msg("heap unmapped"))?;
    check!(size >= SIZE_2M, "heap on {size}-byte pages, want hugepages");
    check!(
        f.contains(F::WRITABLE) && f.contains(F::NO_EXECUTE) == nx,
        "heap flags {f:?}"
    );
    check!(!f.contains(F::NO_CACHE), "heap uncached");
    let (_, f) = translate(0xfee0_0000).ok_or_else(|| msg("local APIC unmapped"))?;
    check!(f.contains(F::NO_CACHE), "local APIC page cached: {f:?}");
    Ok(())
}

fn page_sizes_follow_cpuid(core: &mut Core) -> R {
    if core.id() != 0 {
        return Ok(());
    }
    let m = machine();
    let huge = features::get().huge_1g;
    if !huge {
        check!(
            m.map.pages_1g == 0,
            "{} 1G pages mapped but CPUID lacks pdpe1gb",
            m.map.pages_1g
        );
        let (size, _) = translate(0xc000_0000).ok_or_else(|| msg("3 GiB unmapped"))?;
        check!(
            size == SIZE_2M,
            "device window on {size}-byte pages without pdpe1gb"
        );
    } else {
        check!(
            m.map.pages_1g > 0,
            "CPU has pdpe1gb but no 1G page is mapped"
        );
        // 3-4 GiB holds no RAM on q35/microvm with <= 2 GiB: one uncached 1 GiB page.
        if m.boot.memory_end() <= 2 * SIZE_1G {
            let (size, f) = translate(0xc000_0000).ok_or_else(|| msg("3 GiB unmapped"))?;
            check!(
                size == SIZE_1G,
                "device window on {size}-byte pages with pdpe1gb"
            );
            check!(f.contains(F::NO_CACHE), "device window cached");
        }
        // Where the memory map covers 1..2 GiB with memory, it must be one 1 GiB page. (Not
        // "whenever there are 2 GiB of RAM": QEMU 10's microvm with ACPI reserves a piece of
        // that GiB, which then takes 2 MiB pages.)
        let ram_in_2nd_gib: u64 = m
            .boot
            .memory
            .iter()
            .filter(|r| r.kind.is_memory())
            .map(|r| {
                r.end()
                    .min(2 * SIZE_1G)
                    .saturating_sub(r.start.max(SIZE_1G))
            })
            .fold(0, u64::saturating_add);
        if ram_in_2nd_gib >= SIZE_1G {
            let (size, _) = translate(SIZE_1G + 4096).ok_or_else(|| msg("1 GiB unmapped"))?;
            check!(size == SIZE_1G, "RAM at 1 GiB on {size}-byte pages");
        }
    }
    check!(m.map.pages_4k > 0, "no 4K pages: image sections not split");
    Ok(())
}

fn stack_guard_pages_unmapped(core: &mut Core) -> R {
    let s = stacks::core_stacks(machine().stacks_base, core.id());
    for g in s.guards {
        check!(
            translate(g).is_none(),
            "guard page {g:#x} of core {} is mapped",
            core.id()
        );
        check!(
            translate(g + SIZE_4K).is_some(),
            "page above guard {g:#x} unmapped"
        );
    }
    let sp: u64;
    // SAFETY: reads the stack pointer only.
    unsafe { core::arch::asm!("mov {}, rsp", out(reg) sp) };
    check!(
        sp < s.main_top && sp > s.main_top - stacks::MAIN_STACK,
        "rsp {sp:#x} outside core {}'s stack",
        core.id()
    );
    Ok(())
}

fn heap_hammer_all_cores(core: &mut Core) -> R {
    let mut x = core.random() | 1;
    let mut live: Vec<Vec<u8>> = Vec::new();
    for round in 0..20_000u32 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if live.len() < 64 && (x & 3 != 0 || live.is_empty()) {
            let len = 1 + (x % 3000) as usize;
            let tag = (round as u8) ^ (core.id() as u8);
            let mut v = Vec::with_capacity(len);
            v.resize(len, tag);
            live.push(v);
        } else {
            let i = (x as usize / 4) % live.len();
            let v = live.swap_remove(i);
            let tag = v[0];
            if v.iter().any(|&b| b != tag) {
                fail!("heap block corrupted on core {}", core.id());
            }
        }
    }
    drop(live);
    let used = cpu::this().heap.used.load(Ordering::Relaxed);
    check!(
        used < 64 * 1024,
        "core {} still has {used} bytes in use after freeing everything",
        core.id()
    );
    Ok(())
}

const HANDOFF: usize = 256;
static MAILBOX: [AtomicU64; cpu::MAX_CORES] = [const { AtomicU64::new(0) }; cpu::MAX_CORES];
static HANDED: AtomicUsize = AtomicUsize::new(0);

fn cross_core_free(core: &mut Core) -> R {
    if core.count() == 1 {
        return Ok(());
    }
    // Each core allocates boxes and hands them to the next core, which frees them: the
    // remote-free path. The owner's `used` must come back down once it drains.
    let next = (core.id() + 1) % core.count();
    let before = cpu::this().heap.used.load(Ordering::Relaxed);
    let deadline = core.now_ns() + 30_000_000_000;
    let (mut sent, mut freed) = (0, 0);
    while sent < HANDOFF || freed < HANDOFF {
        if sent < HANDOFF && MAILBOX[next].load(Ordering::Acquire) == 0 {
            let b = Box::new([core.id() as u64; 8]);
            MAILBOX[next].store(Box::into_raw(b) as u64, Ordering::Release);
            sent += 1;
        }
        let p = MAILBOX[core.id()].swap(0, Ordering::AcqRel);
        if p != 0 {
            // SAFETY: the pointer came from Box::into_raw on the previous core and is handed
            // over exactly once through the mailbox.
            let b = unsafe { Box::from_raw(p as *mut [u64; 8]) };
            let from = (core.id() + core.count() - 1) % core.count();
            check!(
                b.iter().all(|&v| v == from as u64),
                "box from core {from} corrupted"
            );
            drop(b);
            freed += 1;
        }
        if core.now_ns() > deadline {
            fail!(
                "hand-off stalled on core {}: sent {sent}, freed {freed}",
                core.id()
            );
        }
    }
    HANDED.fetch_add(1, Ordering::AcqRel);
    while HANDED.load(Ordering::Acquire) < core.count() {
        core::hint::spin_loop();
    }
    corenet::raw::kernel::memory::heap::drain_remote_frees();
    let after = cpu::this().heap.used.load(Ordering::Relaxed);
    check!(
        after <= before + 64,
        "core {} heap grew from {before} to {after} bytes: remote frees lost",
        core.id()
    );
    Ok(())
}

fn dma_pool(core: &mut Core) -> R {
    let cap = core.dma().capacity();
    check!(cap >= SIZE_2M, "DMA pool of {cap} bytes");
    let a = core
        .dma()
        .alloc(4096, 4096)
        .ok_or_else(|| msg("4K DMA alloc failed"))?;
    let b = core
        .dma()
        .alloc(100, 64)
        .ok_or_else(|| msg("small DMA alloc failed"))?;
    check!(a.phys % 4096 == 0 && b.phys % 64 == 0, "misaligned DMA");
    check!(a.phys == a.virt.as_ptr() as u64, "DMA not identity mapped");
    check!(b.phys >= a.phys + 4096, "DMA chunks overlap");
    // SAFETY: the chunk is ours, `len` bytes long, mapped writable.
    let zero = unsafe { core::slice::from_raw_parts(a.virt.as_ptr(), a.len) }
        .iter()
        .all(|&x| x == 0);
    check!(zero, "DMA memory not zeroed");
    let (size, f) = translate(a.phys).ok_or_else(|| msg("DMA unmapped"))?;
    check!(
        size >= SIZE_2M && !f.contains(F::NO_CACHE),
        "DMA on {size}-byte or uncached pages"
    );
    let base = machine().dma_base[core.id()];
    check!(
        a.phys >= base && a.phys < base + cap && base.is_multiple_of(SIZE_2M),
        "DMA outside this core's hugepages"
    );
    check!(
        core.dma().alloc(usize::MAX / 2, 8).is_none(),
        "huge DMA alloc succeeded"
    );
    check!(
        core.dma().alloc(16, 3).is_none(),
        "non-power-of-two alignment accepted"
    );
    Ok(())
}

fn clock_monotonic_per_core(core: &mut Core) -> R {
    let mut last = core.now_ns();
    for _ in 0..100_000 {
        let t = core.now_ns();
        check!(
            t >= last,
            "clock went back on core {}: {last} -> {t}",
            core.id()
        );
        last = t;
    }
    check!(last > 0, "clock not running");
    Ok(())
}

static LATEST: AtomicU64 = AtomicU64::new(0);

fn clock_monotonic_across_cores(core: &mut Core) -> R {
    // Every core publishes its time; whatever another core published (happened before our
    // read) must not be later than our own clock read after it.
    for _ in 0..20_000 {
        let seen = LATEST.load(Ordering::Acquire);
        let now = core.now_ns();
        check!(
            now >= seen,
            "core {} read {now} after seeing {seen} from another core",
            core.id()
        );
        LATEST.fetch_max(now, Ordering::AcqRel);
    }
    Ok(())
}

fn random_source_follows_cpuid(core: &mut Core) -> R {
    let f = features::get();
    let (a, src) = corenet::raw::kernel::rand::seed();
    let (b, _) = corenet::raw::kernel::rand::seed();
    let want = if f.rdseed {
        RandomSource::Rdseed
    } else if f.rdrand {
        RandomSource::Rdrand
    } else {
        RandomSource::TscJitter
    };
    check!(
        src == want,
        "seed from {src:?} with rdseed={} rdrand={}",
        f.rdseed,
        f.rdrand
    );
    check!(a != b, "two seeds on core {} are equal ({a:#x})", core.id());
    Ok(())
}

/// Boot publishes the machine description once, complete: the clock and seed source it shows
/// (and the ready line prints) are the live ones, and every core has its entry.
fn machine_description_complete(core: &mut Core) -> R {
    let m = machine();
    let hz = corenet::raw::kernel::clock::tsc_hz();
    check!(
        hz > 0 && m.tsc_hz == hz,
        "machine says TSC {} Hz, the clock runs at {hz} Hz",
        m.tsc_hz
    );
    let (_, src) = corenet::raw::kernel::rand::seed();
    check!(
        m.random == src,
        "machine says seeds from {:?}, the core gets them from {src:?}",
        m.random
    );
    let apic = cpu::percpu(core.id()).apic_id.load(Ordering::Relaxed);
    check!(
        m.apic_ids.len() == m.cores && m.dma_base.len() == m.cores,
        "{} cores but {} APIC ids and {} DMA pools",
        m.cores,
        m.apic_ids.len(),
        m.dma_base.len()
    );
    check!(
        m.apic_ids.get(core.id()) == Some(&apic),
        "core {} runs on APIC id {apic}, the machine lists {:?}",
        core.id(),
        m.apic_ids.get(core.id())
    );
    Ok(())
}

fn msg(s: &str) -> String {
    String::from(s)
}

/// `test=fault|guard|panic|oom`: provoke a failure on the last core (the others keep running
/// until the kernel stops them).
pub fn provoke(core: &mut Core, mode: &str) {
    if core.id() + 1 != core.count() {
        loop {
            core::hint::spin_loop();
        }
    }
    match mode {
        "fault" => {
            let code = provoke as *const () as *mut u8;
            corenet::println!("provoking a write to read-only code at {code:p}");
            // SAFETY: deliberately unsound: the write must fault (code is mapped read-only).
            unsafe { code.write_volatile(0x90) };
        }
        "guard" => {
            corenet::println!("provoking a stack overflow into the guard page");
            recurse(0);
        }
        "panic" => panic!("provoked panic on core {}", core.id()),
        "oom" => {
            corenet::println!("provoking heap exhaustion");
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(Vec::with_capacity(1 << 20));
            }
        }
        other => panic!("unknown test= mode {other:?}"),
    }
    panic!("provoked {mode} did not stop the machine");
}

#[inline(never)]
#[allow(unconditional_recursion, reason = "overflowing the stack is the point")]
fn recurse(depth: u64) -> u64 {
    let buf = core::hint::black_box([depth; 64]);
    recurse(depth + 1) + buf[(depth % 64) as usize]
}
