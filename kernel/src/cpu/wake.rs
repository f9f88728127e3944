//! Wake-up interrupts for halted cores: the local APIC timer, the wake IPI, NIC receive
//! interrupts (MSI-X), and their counters.
//!
//! The handlers only count and acknowledge (EOI): all work stays in the run loop, which the
//! interrupt ends the `hlt` of. The timer uses TSC-deadline mode where CPUID has it (one MSR
//! write per arm, no calibration), else one-shot mode with a count calibrated against the TSC
//! at boot. The 8259 PICs are masked so no legacy interrupt reaches a core once it enables
//! interrupts to halt.

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use x86_64::VirtAddr;
use x86_64::instructions::port::Port;
use x86_64::registers::model_specific::Msr;
use x86_64::structures::idt::InterruptDescriptorTable;

use super::{MAX_CORES, apic, core_id, percpu, rdtsc};
use crate::clock;
use crate::idle::Sleeper;

/// Vector of the APIC timer.
pub const VECTOR_TIMER: u8 = 0x20;
/// Vector of the wake IPI one core sends another.
pub const VECTOR_IPI: u8 = 0x21;
/// Vector of NIC receive interrupts (MSI-X, one per queue, each steered to its queue's core).
pub const VECTOR_NIC: u8 = 0x22;
/// Vector of spurious APIC interrupts (set in the SVR by `apic::init`).
pub const VECTOR_SPURIOUS: u8 = 0xff;

const IA32_TSC_DEADLINE: u32 = 0x6e0;
const LVT_TIMER_TSC_DEADLINE: u32 = 0b10 << 17;
/// Divide configuration 0b1011: divide by 1 (SDM 10.5.4).
const TIMER_DIVIDE_BY_1: u32 = 0b1011;

core::arch::global_asm!(
    r#"
    .macro CORENET_WAKE_STUB n
    .p2align 4
    .global corenet_wake_stub_\n
corenet_wake_stub_\n:
    push rax
    push rcx
    push rdx
    push rsi
    push rdi
    push r8
    push r9
    push r10
    push r11
    push rbp
    mov rbp, rsp
    and rsp, -16
    cld
    mov edi, \n
    call corenet_wake_interrupt
    mov rsp, rbp
    pop rbp
    pop r11
    pop r10
    pop r9
    pop r8
    pop rdi
    pop rsi
    pop rdx
    pop rcx
    pop rax
    iretq
    .endm

    .text
    CORENET_WAKE_STUB 32
    CORENET_WAKE_STUB 33
    CORENET_WAKE_STUB 34

    .p2align 4
    .global corenet_spurious_stub
corenet_spurious_stub:
    iretq
"#
);

unsafe extern "C" {
    fn corenet_wake_stub_32();
    fn corenet_wake_stub_33();
    fn corenet_wake_stub_34();
    fn corenet_spurious_stub();
}

/// Per-core idle accounting (written by its core, read by `/metrics`).
#[derive(Debug)]
#[repr(align(64))]
pub struct IdleStats {
    /// TSC ticks spent in passes that did work.
    pub busy_ticks: AtomicU64,
    /// TSC ticks spent halted.
    pub halted_ticks: AtomicU64,
    /// Halts.
    pub halts: AtomicU64,
    /// Halts refused because the last look found work.
    pub refused: AtomicU64,
    /// Wake-ups by the APIC timer.
    pub wake_timer: AtomicU64,
    /// Wake-ups by another core's IPI.
    pub wake_ipi: AtomicU64,
    /// Wake-ups by a NIC receive interrupt.
    pub wake_nic: AtomicU64,
    /// Wake IPIs this core sent.
    pub ipis_sent: AtomicU64,
}

impl IdleStats {
    const fn new() -> Self {
        Self {
            busy_ticks: AtomicU64::new(0),
            halted_ticks: AtomicU64::new(0),
            halts: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            wake_timer: AtomicU64::new(0),
            wake_ipi: AtomicU64::new(0),
            wake_nic: AtomicU64::new(0),
            ipis_sent: AtomicU64::new(0),
        }
    }
}

static STATS: [IdleStats; MAX_CORES] = [const { IdleStats::new() }; MAX_CORES];
static SLEEPERS: [Sleeper; MAX_CORES] = [const { Sleeper::new() }; MAX_CORES];
/// Whether any core may halt (`idle=` is not `poll`): else [`wake`] returns at once, so the
/// polling default pays no fence per post.
static HALTING: AtomicBool = AtomicBool::new(false);
/// APIC timer ticks per millisecond in one-shot mode (0: TSC-deadline mode).
static APIC_TICKS_PER_MS: AtomicU32 = AtomicU32::new(0);

/// Core `core`'s idle accounting.
pub fn stats(core: usize) -> &'static IdleStats {
    &STATS[core % MAX_CORES]
}

/// Core `core`'s sleeping flag.
pub fn sleeper(core: usize) -> &'static Sleeper {
    &SLEEPERS[core % MAX_CORES]
}

/// Wakes core `core` if it is halted or about to halt; call after the message for it is
/// visible. Costs one load while the core polls.
pub fn wake(core: usize) {
    if !HALTING.load(Ordering::Relaxed)
        || core >= MAX_CORES
        || core == core_id()
        || !SLEEPERS[core].needs_wake()
    {
        return;
    }
    let dest = percpu(core).apic_id.load(Ordering::Relaxed);
    if apic::send_ipi(Some(dest), apic::Delivery::Fixed, VECTOR_IPI) {
        STATS[core_id() % MAX_CORES]
            .ipis_sent
            .fetch_add(1, Ordering::Relaxed);
    }
}

/// Adds the wake vectors to the IDT (called while it is built).
pub(super) fn install(idt: &mut InterruptDescriptorTable) {
    let entries: [(u8, unsafe extern "C" fn()); 4] = [
        (VECTOR_TIMER, corenet_wake_stub_32),
        (VECTOR_IPI, corenet_wake_stub_33),
        (VECTOR_NIC, corenet_wake_stub_34),
        (VECTOR_SPURIOUS, corenet_spurious_stub),
    ];
    for (v, f) in entries {
        // SAFETY: each stub saves the caller-saved registers, calls a handler that only
        // counts and acknowledges, and returns with iretq (the spurious one returns at once:
        // a spurious interrupt takes no EOI).
        unsafe {
            idt[v].set_handler_addr(VirtAddr::new(f as usize as u64));
        }
    }
}

#[unsafe(no_mangle)]
extern "C" fn corenet_wake_interrupt(vector: u32) {
    let s = &STATS[core_id() % MAX_CORES];
    let counter = match vector {
        v if v == u32::from(VECTOR_TIMER) => &s.wake_timer,
        v if v == u32::from(VECTOR_NIC) => &s.wake_nic,
        _ => &s.wake_ipi,
    };
    counter.fetch_add(1, Ordering::Relaxed);
    apic::eoi();
}

/// Masks both 8259 PICs (the BSP, once): legacy IRQs would arrive on exception vectors.
pub fn mask_pic() {
    // SAFETY: ports 0x21 and 0xa1 are the PICs' interrupt mask registers; masking every line
    // has no other effect (corenet uses no legacy interrupt).
    unsafe {
        Port::<u8>::new(0x21).write(0xff);
        Port::<u8>::new(0xa1).write(0xff);
    }
}

/// Whether cores may halt (`idle=` is not `poll`); set by boot before any core starts.
pub fn set_halting(on: bool) {
    HALTING.store(on, Ordering::Relaxed);
}

/// Sets up this core's APIC timer (every core, after `apic::init`); the BSP calibrates the
/// one-shot rate first when there is no TSC-deadline mode.
pub fn init_core(bsp: bool) {
    let tsc_deadline = raw_cpuid::CpuId::new()
        .get_feature_info()
        .is_some_and(|f| f.has_tsc_deadline());
    if tsc_deadline {
        apic::set_timer(u32::from(VECTOR_TIMER) | LVT_TIMER_TSC_DEADLINE, 0, 0);
        return;
    }
    apic::set_timer(
        apic::LVT_MASKED | u32::from(VECTOR_TIMER),
        TIMER_DIVIDE_BY_1,
        0,
    );
    if bsp {
        // One-shot count over 1 ms of TSC time: the APIC timer's rate is not in CPUID.
        apic::set_timer(
            apic::LVT_MASKED | u32::from(VECTOR_TIMER),
            TIMER_DIVIDE_BY_1,
            u32::MAX,
        );
        clock::delay_us(1000);
        let left = apic::timer_current();
        APIC_TICKS_PER_MS.store((u32::MAX - left).max(1), Ordering::Relaxed);
        apic::set_timer(
            apic::LVT_MASKED | u32::from(VECTOR_TIMER),
            TIMER_DIVIDE_BY_1,
            0,
        );
    }
    apic::set_timer(u32::from(VECTOR_TIMER), TIMER_DIVIDE_BY_1, 0);
}

/// Arms this core's timer to fire at `deadline_ns` (clock of [`clock::now_ns`]).
pub fn arm_timer(deadline_ns: u64) {
    let now = clock::now_ns();
    let delta_ns = deadline_ns.saturating_sub(now).max(1_000);
    let per_ms = APIC_TICKS_PER_MS.load(Ordering::Relaxed);
    if per_ms == 0 {
        let ticks = (u128::from(delta_ns) * u128::from(clock::tsc_hz()) / 1_000_000_000) as u64;
        // SAFETY: TSC-deadline mode was selected in the LVT by `init_core`; writing the MSR
        // arms the timer for that TSC value.
        unsafe { Msr::new(IA32_TSC_DEADLINE).write(rdtsc() + ticks.max(1)) };
    } else {
        let count = (u128::from(delta_ns) * u128::from(per_ms) / 1_000_000).clamp(1, 0xffff_ffff);
        apic::set_timer_count(count as u32);
    }
}

/// Stops this core's timer (after a halt, so a late expiry does not interrupt polling).
pub fn disarm_timer() {
    if APIC_TICKS_PER_MS.load(Ordering::Relaxed) == 0 {
        // SAFETY: as in `arm_timer`; zero disarms.
        unsafe { Msr::new(IA32_TSC_DEADLINE).write(0) };
    } else {
        apic::set_timer_count(0);
    }
}

/// Enables interrupts and halts until one is taken; interrupts are off again on return.
/// `sti` takes effect after the next instruction, so an interrupt pending since the caller's
/// last look ends the `hlt` at once instead of being taken before it.
pub fn halt_until_interrupt() {
    // SAFETY: the IDT has handlers for every vector that can arrive (timer, wake IPI,
    // spurious; the PICs are masked); the handlers preserve all registers.
    unsafe { core::arch::asm!("sti", "hlt", "cli", options(nomem, nostack)) };
}

/// Disables interrupts on this core.
pub fn disable_interrupts() {
    x86_64::instructions::interrupts::disable();
}
