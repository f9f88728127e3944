//! The boot sequence on the bootstrap processor, from `corenet_boot_main` to the AP start.
//!
//! 1. GS base for core 0, serial console, logger.
//! 2. Boot information (PVH or Multiboot2) copied and validated; command line parsed.
//! 3. CPUID features; ACPI: processors, ECAM, HPET; the BSP's APIC.
//! 4. Frame allocator; guarded stacks for every core; the identity map with hugepages.
//! 5. Per-core heaps and DMA pools, all carved from hugepages before any AP runs.
//! 6. Switch to core 0's guarded stack, then [`bsp_main`]: GDT/TSS/IDT, TSC calibration,
//!    random seed, AP start-up; every core then enters the appliance (runtime.rs).

use core::fmt::Arguments;
use core::sync::atomic::{AtomicU64, Ordering};
use corenet_boot::{BootInfo, Cmdline, PhysRead};
use heapless::Vec;
use spin::Once;

use crate::acpi::{self, Platform};
use crate::config::Config;
use crate::cpu::{self, MAX_CORES, apic, exceptions, features, gdt, smp};
use crate::memory::frames::{FrameAllocator, Range};
use crate::memory::paging::{self, MapStats};
use crate::memory::plan::Layout;
use crate::memory::{heap, stacks};
use crate::{clock, exit, logger, rand, serial};

/// Everything boot learned, readable from every core afterwards.
#[derive(Debug)]
pub struct Machine {
    /// The loader's information.
    pub boot: &'static BootInfo,
    /// ACPI facts.
    pub platform: Platform,
    /// Validated settings.
    pub config: Config,
    /// Cores in use.
    pub cores: usize,
    /// APIC id of each core.
    pub apic_ids: Vec<u32, MAX_CORES>,
    /// Start of the stack area.
    pub stacks_base: u64,
    /// Page-table root.
    pub cr3: u64,
    /// Pages mapped.
    pub map: MapStats,
    /// DMA pool base of each core.
    pub dma_base: Vec<u64, MAX_CORES>,
    /// TSC frequency and its source.
    pub tsc: (u64, clock::ClockSource),
    /// The BSP's seed source.
    pub random: rand::RandomSource,
}

static MACHINE: Once<Machine> = Once::new();
static BOOT_INFO: Once<BootInfo> = Once::new();

/// The machine description (after boot).
pub fn machine() -> &'static Machine {
    MACHINE
        .get()
        .unwrap_or_else(|| panic!("machine() called before boot finished"))
}

struct IdentityPhys;

impl PhysRead for IdentityPhys {
    fn read(&self, addr: u64, buf: &mut [u8]) -> bool {
        // The boot tables identity map 0..4 GiB; loader structures live below that.
        let Some(end) = addr.checked_add(buf.len() as u64) else {
            return false;
        };
        if addr == 0 || end > (1 << 32) {
            return false;
        }
        // SAFETY: the range is inside the identity-mapped first 4 GiB, read-only access.
        unsafe { core::ptr::copy_nonoverlapping(addr as *const u8, buf.as_mut_ptr(), buf.len()) };
        true
    }
}

/// Prints a boot failure and exits with [`exit::code::BOOT_FAILURE`].
/// When several cores fail (each core's `init` meets the same bad command line), the first
/// reports and the others halt.
pub fn boot_fail(args: Arguments<'_>) -> ! {
    if !crate::panic::claim_report() {
        crate::exit::halt_forever()
    }
    let mut w = serial::LineWriter::new();
    let _ = core::fmt::Write::write_fmt(&mut w, format_args!("corenet: BOOT FAILED: {args}"));
    w.finish(true);
    crate::panic::stop_machine(exit::code::BOOT_FAILURE)
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

core::arch::global_asm!(
    r#"
    .text
    .global corenet_switch_stack
corenet_switch_stack:
    mov rsp, rdi
    xor ebp, ebp
    call rsi
    ud2
"#
);

unsafe extern "C" {
    fn corenet_switch_stack(top: u64, f: extern "C" fn() -> !) -> !;
}

static BSP_STACK_TOP: AtomicU64 = AtomicU64::new(0);

/// Boot phases timed with the raw TSC (the clock is calibrated only later); logged at debug
/// level once it is, so a slow boot can be traced to its step.
const PHASES: [&str; 7] = [
    "boot info",
    "acpi",
    "pci",
    "page tables",
    "heaps+dma",
    "calibration",
    "smp",
];
static PHASE_TSC: [AtomicU64; 7] = [const { AtomicU64::new(0) }; 7];

fn mark(phase: usize) {
    PHASE_TSC[phase].store(cpu::rdtsc(), Ordering::Relaxed);
}

fn log_phases() {
    let hz = clock::tsc_hz().max(1);
    let mut prev = clock::boot_tsc();
    let mut line: heapless::String<256> = heapless::String::new();
    for (name, t) in PHASES.iter().zip(PHASE_TSC.iter()) {
        let t = t.load(Ordering::Relaxed);
        let us = t.saturating_sub(prev) * 1_000_000 / hz;
        let _ = core::fmt::Write::write_fmt(&mut line, format_args!(" {name}={us}us"));
        prev = t;
    }
    log::debug!("boot phases:{line}");
}

/// Entered from `corenet_entry32` on the boot stack, long mode, boot page tables.
#[unsafe(no_mangle)]
extern "C" fn corenet_boot_main(eax: u32, ebx: u32) -> ! {
    cpu::init_percpu(0);
    serial::init();
    logger::init(log::LevelFilter::Info);
    let boot = BootInfo::parse(&IdentityPhys, eax, ebx)
        .unwrap_or_else(|e| boot_fail(format_args!("boot information: {e}")));
    let boot: &'static BootInfo = BOOT_INFO.call_once(|| boot);
    let cmdline = boot.cmdline.as_str();
    let config =
        Config::parse(&Cmdline(cmdline)).unwrap_or_else(|e| boot_fail(format_args!("{e}")));
    log::set_max_level(config.log);
    log::info!(
        "corenet {} booting via {:?}: {} MiB usable RAM in {} regions, cmdline {:?}",
        env!("CARGO_PKG_VERSION"),
        boot.protocol,
        boot.usable_bytes() >> 20,
        boot.memory.len(),
        cmdline
    );
    let f = *features::get();
    log::info!(
        "cpu: 1G pages {}, NX {}, x2APIC {}, RDRAND {}, RDSEED {}, invariant TSC {}, hypervisor {}",
        f.huge_1g,
        f.nx,
        f.x2apic,
        f.rdrand,
        f.rdseed,
        f.invariant_tsc,
        f.hypervisor
    );

    apic::init(f.x2apic);
    let bsp_apic = apic::id();
    cpu::percpu(0).apic_id.store(bsp_apic, Ordering::Relaxed);
    mark(0);
    let platform = acpi::parse(boot.rsdp).unwrap_or_else(|e| {
        let mut p = Platform::default();
        match crate::mptable::processors(&IdentityPhys) {
            Some(cpus) => {
                log::info!(
                    "no ACPI ({e:?}): {} processors from the MP table",
                    cpus.len()
                );
                for (id, _) in cpus {
                    let _ = p.apic_ids.push(id);
                }
            }
            None => {
                log::warn!("no ACPI ({e:?}) and no MP table: running on the boot processor only")
            }
        }
        p
    });
    mark(1);
    let pci = crate::pci::ConfigAccess::detect(&platform);
    let mut avoid: Vec<core::ops::Range<u64>, 140> = Vec::new();
    for r in boot.memory.iter() {
        let _ = avoid.push(r.start..r.end());
    }
    for e in platform.ecam.iter() {
        let _ = avoid.push(e.base..e.base + ((u64::from(e.bus_end) + 1) << 20));
    }
    let bars = crate::pci::assign_bars(&pci, &avoid);
    log::info!(
        "pci: {:?} config access; BARs: {} kept, {} assigned, {} did not fit",
        pci,
        bars.kept,
        bars.assigned,
        bars.failed
    );
    let mut apic_ids: Vec<u32, MAX_CORES> = Vec::new();
    let _ = apic_ids.push(bsp_apic);
    for &id in platform.apic_ids.iter().filter(|&&id| id != bsp_apic) {
        let _ = apic_ids.push(id);
    }
    if platform.cores_ignored > 0 {
        log::warn!(
            "{} processors beyond corenet's limit of {MAX_CORES} stay parked",
            platform.cores_ignored
        );
    }
    let cores = config
        .max_cores
        .map_or(apic_ids.len(), |m| m.min(apic_ids.len()));
    apic_ids.truncate(cores);

    // SAFETY: linker-script symbols; only their addresses are used.
    let (image, text, rodata) = unsafe {
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
    };
    mark(2);
    let mut fa = FrameAllocator::new(&boot.memory, &[image]);
    let free_before = fa.free_bytes();
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

    mark(3);
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
    let mut dma_base: Vec<u64, MAX_CORES> = Vec::new();
    for c in 0..cores {
        let b = fa.alloc(config.dma, 2 << 20).unwrap_or_else(|| {
            boot_fail(format_args!(
                "no room for core {c}'s DMA pool of {} MiB: lower dma=",
                config.dma >> 20
            ))
        });
        let _ = dma_base.push(b);
    }
    log::info!(
        "memory: {cores} cores x ({} MiB heap + {} MiB DMA) in 2 MiB pages; {} of {} MiB left free",
        heap_size >> 20,
        config.dma >> 20,
        fa.free_bytes() >> 20,
        free_before >> 20
    );
    crate::memory::spare::hand_over(fa);
    mark(4);

    let stack = stacks::core_stacks(stacks_base, 0);
    BSP_STACK_TOP.store(stack.main_top, Ordering::Relaxed);
    // The machine description is complete except for clock and seed (filled in by bsp_main).
    MACHINE.call_once(|| Machine {
        boot,
        platform,
        config,
        cores,
        apic_ids,
        stacks_base,
        cr3,
        map,
        dma_base,
        tsc: (0, clock::ClockSource::Pit),
        random: rand::RandomSource::TscJitter,
    });
    // SAFETY: the stack top is core 0's guarded main stack, mapped writable; `bsp_main` never
    // returns, so nothing refers to the boot stack afterwards.
    unsafe { corenet_switch_stack(stack.main_top, bsp_main) }
}

static TSC_INFO: Once<((u64, clock::ClockSource), rand::RandomSource)> = Once::new();

/// TSC frequency, its source, and the BSP's random source (after boot).
pub fn tsc_info() -> ((u64, clock::ClockSource), rand::RandomSource) {
    TSC_INFO
        .get()
        .copied()
        .unwrap_or(((0, clock::ClockSource::Pit), rand::RandomSource::TscJitter))
}

extern "C" fn bsp_main() -> ! {
    let m = machine();
    let stack = stacks::core_stacks(m.stacks_base, 0);
    gdt::init(stack.ist_tops);
    exceptions::init();
    let hpet = m.platform.hpet;
    let tsc = clock::calibrate(hpet)
        .unwrap_or_else(|_| boot_fail(format_args!("no clock source to calibrate the TSC")));
    mark(5);
    let (_, random) = rand::seed();
    TSC_INFO.call_once(|| (tsc, random));
    log::info!(
        "clock: TSC {}.{:03} MHz from {}; random seeds from {}",
        tsc.0 / 1_000_000,
        (tsc.0 / 1000) % 1000,
        tsc.1.name(),
        random.name()
    );
    // Before the APs start: they take the timer mode and rate the BSP calibrates here.
    cpu::wake::mask_pic();
    cpu::wake::init_core(true);
    if m.cores > 1 {
        let base = m.stacks_base;
        let r = smp::start_aps(
            &m.apic_ids[1..],
            m.cr3,
            features::get().nx,
            &|c| stacks::core_stacks(base, c).main_top,
            ap_main,
        );
        if let Err(e) = r {
            boot_fail(format_args!(
                "core {} (APIC id {}) did not start",
                e.core, e.apic_id
            ));
        }
    }
    mark(6);
    log::info!("smp: {} cores online", smp::ONLINE.load(Ordering::Acquire));
    log_phases();
    crate::runtime::run_core(0)
}

extern "C" fn ap_main(core: u64) -> ! {
    let core = core as usize;
    cpu::init_percpu(core);
    let m = machine();
    gdt::init(stacks::core_stacks(m.stacks_base, core).ist_tops);
    exceptions::init();
    apic::init(features::get().x2apic);
    cpu::wake::init_core(false);
    cpu::percpu(core)
        .apic_id
        .store(apic::id(), Ordering::Relaxed);
    smp::ONLINE.fetch_add(1, Ordering::AcqRel);
    crate::runtime::run_core(core)
}
