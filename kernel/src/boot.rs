//! The boot sequence on the bootstrap processor, from `corenet_boot_main` to the AP start.
//!
//! Each phase is one function, called in this order (docs/ARCHITECTURE.md, "Boot sequence"):
//!
//! 1. `console`: GS base for core 0, serial console, logger.
//! 2. `platform::boot_info`: boot information (PVH or Multiboot2) copied and validated; the
//!    command line parsed into [`Config`].
//! 3. `platform::cpu`: CPUID features and the BSP's local APIC.
//! 4. `platform::acpi`: processors, ECAM, HPET (or the MP table's processors).
//! 5. `platform::pci`: memory BARs the firmware left unassigned.
//! 6. `platform::cores`: which processors become corenet cores.
//! 7. `layout::identity_map`: the frame allocator, guarded stacks for every core, the
//!    identity map with hugepages (CR3 switched).
//! 8. `layout::per_core`: per-core heaps and DMA pools, all carved from hugepages before
//!    any AP runs; the frame allocator then goes to [`memory::spare`](crate::memory::spare).
//! 9. Switch to core 0's guarded stack, then `bsp_main`; `cpu_tables`: GDT/TSS, IDT.
//! 10. `clock_and_seed`: TSC calibration, random seed source.
//! 11. `publish`: the complete [`Machine`], readable from every core from now on.
//! 12. `wake_sources`: PICs masked, idle policy, the APIC timer.
//! 13. `start_aps`: the other cores, one at a time; each runs `ap_main`.
//!
//! Every core then enters the appliance ([`runtime`](crate::runtime)).
//!
//! Values flow forward only: each phase takes what earlier phases produced as arguments and
//! returns what it made. Boot owns no global that another module writes: it writes the
//! [`Machine`] once (`machine::publish`) and hands the frame allocator over once.

mod layout;
mod platform;
mod timing;

use core::ffi::c_void;
use core::fmt::Arguments;
use core::sync::atomic::Ordering;
use corenet_boot::BootInfo;
use heapless::Vec;

use crate::acpi::Platform;
use crate::config::Config;
use crate::cpu::{self, MAX_CORES, apic, exceptions, features, gdt, smp};
use crate::idle::IdlePolicy;
use crate::machine::{self, Machine};
use crate::memory::stacks;
use crate::{clock, exit, logger, rand, serial};
use layout::Memory;
use timing::Phase;

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

/// What the phases on the boot stack learned, moved to [`bsp_main`] across the stack switch.
struct Early {
    boot: &'static BootInfo,
    config: Config,
    platform: Platform,
    apic_ids: Vec<u32, MAX_CORES>,
    memory: Memory,
}

/// Entered from `corenet_entry32` on the boot stack, long mode, boot page tables.
#[unsafe(no_mangle)]
extern "C" fn corenet_boot_main(eax: u32, ebx: u32) -> ! {
    console();
    let (boot, config) = platform::boot_info(eax, ebx);
    let (f, bsp_apic) = platform::cpu();
    timing::mark(Phase::BootInfo);
    let platform = platform::acpi(boot);
    timing::mark(Phase::Acpi);
    platform::pci(boot, &platform);
    let apic_ids = platform::cores(&platform, bsp_apic, &config);
    timing::mark(Phase::Pci);
    let (mut fa, memory) = layout::identity_map(boot, &f, apic_ids.len());
    timing::mark(Phase::PageTables);
    let memory = layout::per_core(&mut fa, &config, apic_ids.len(), memory);
    crate::memory::spare::hand_over(fa);
    timing::mark(Phase::HeapsDma);

    let top = stacks::core_stacks(memory.stacks_base, 0).main_top;
    let early = Early {
        boot,
        config,
        platform,
        apic_ids,
        memory,
    };
    // SAFETY: the stack top is core 0's guarded main stack, mapped writable. `bsp_main` never
    // returns, and its first act moves `early` out of this frame, so nothing refers to the boot
    // stack afterwards (which stays reserved in the image: nothing else ever uses it).
    unsafe { corenet_switch_stack(top, bsp_main, (&raw const early).cast()) }
}

/// Phase 1: per-core data for core 0 (GS base), the serial console, the logger.
fn console() {
    cpu::init_percpu(0);
    serial::init();
    logger::init(log::LevelFilter::Info);
}

core::arch::global_asm!(
    r#"
    .text
    .global corenet_switch_stack
corenet_switch_stack:
    mov rsp, rdi
    mov rdi, rdx
    xor ebp, ebp
    call rsi
    ud2
"#
);

unsafe extern "C" {
    /// Loads `top` into RSP and calls `f(arg)` there; never returns.
    fn corenet_switch_stack(
        top: u64,
        f: extern "C" fn(*const c_void) -> !,
        arg: *const c_void,
    ) -> !;
}

/// Phases 9-13, on core 0's own guarded stack; then core 0 enters the appliance.
extern "C" fn bsp_main(early: *const c_void) -> ! {
    // SAFETY: `early` points at the `Early` that `corenet_boot_main` built on the boot stack and
    // abandoned without dropping; it is read exactly once, here, before anything else runs.
    let early = unsafe { core::ptr::read(early.cast::<Early>()) };
    cpu_tables(0, early.memory.stacks_base);
    let (tsc_hz, clock, random) = clock_and_seed(&early.platform);
    let m = publish(early, tsc_hz, clock, random);
    wake_sources(m);
    start_aps(m);
    timing::mark(Phase::Smp);
    log::info!("smp: {} cores online", smp::online());
    timing::log_phases();
    crate::runtime::run_core(0)
}

/// Phase 9 (and each AP's): this core's GDT and TSS with its IST stacks, and the shared IDT.
fn cpu_tables(core: usize, stacks_base: u64) {
    gdt::init(stacks::core_stacks(stacks_base, core).ist_tops);
    exceptions::init();
}

/// Phase 10: the TSC frequency and its source (the HPET from ACPI is one candidate), then the
/// best random seed source.
fn clock_and_seed(platform: &Platform) -> (u64, clock::ClockSource, rand::RandomSource) {
    let (tsc_hz, clock) = clock::calibrate(platform.hpet)
        .unwrap_or_else(|_| boot_fail(format_args!("no clock source to calibrate the TSC")));
    timing::mark(Phase::Calibration);
    let (_, random) = rand::seed();
    log::info!(
        "clock: TSC {}.{:03} MHz from {}; random seeds from {}",
        tsc_hz / 1_000_000,
        (tsc_hz / 1000) % 1000,
        clock.name(),
        random.name()
    );
    (tsc_hz, clock, random)
}

/// Phase 11: the machine description, now complete, published for every core.
fn publish(
    early: Early,
    tsc_hz: u64,
    clock: clock::ClockSource,
    random: rand::RandomSource,
) -> &'static Machine {
    machine::publish(Machine {
        boot: early.boot,
        cores: early.apic_ids.len(),
        platform: early.platform,
        config: early.config,
        apic_ids: early.apic_ids,
        stacks_base: early.memory.stacks_base,
        cr3: early.memory.cr3,
        map: early.memory.map,
        dma_base: early.memory.dma_base,
        tsc_hz,
        clock,
        random,
    })
}

/// Phase 12: legacy PICs masked, the idle policy given to the wake-up code, the BSP's APIC
/// timer (calibrated here when there is no TSC-deadline mode). Before the APs start: they
/// take the timer mode and rate from here.
fn wake_sources(m: &Machine) {
    cpu::wake::mask_pic();
    cpu::wake::set_halting(m.config.idle != IdlePolicy::Poll);
    cpu::wake::init_core(true);
}

/// Phase 13: starts every other core (one at a time, see [`smp::start_aps`]); a core that
/// does not come up is a boot failure.
fn start_aps(m: &Machine) {
    if m.cores <= 1 {
        return;
    }
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

/// An AP's Rust entry, on its own guarded stack (from the trampoline).
extern "C" fn ap_main(core: u64) -> ! {
    let core = core as usize;
    cpu::init_percpu(core);
    cpu_tables(core, machine::machine().stacks_base);
    apic::init(features::get().x2apic);
    cpu::wake::init_core(false);
    cpu::percpu(core)
        .apic_id
        .store(apic::id(), Ordering::Relaxed);
    smp::report_online();
    crate::runtime::run_core(core)
}
