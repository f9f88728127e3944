//! The local APIC: x2APIC (MSRs) when CPUID offers it, else xAPIC (MMIO at the APIC base).
//!
//! Inter-processor messages: INIT-SIPI-SIPI to start cores, NMI to stop them, a fixed vector
//! to wake a halted core; and the timer that ends a halt (see `cpu::wake`). Register offsets: SDM Vol. 3A, table 10-1 (xAPIC) and
//! 10-6 (x2APIC MSR = 0x800 + offset / 16).

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use x86_64::registers::model_specific::Msr;

const IA32_APIC_BASE: u32 = 0x1b;
const APIC_BASE_ENABLE: u64 = 1 << 11;
const APIC_BASE_X2APIC: u64 = 1 << 10;

const REG_ID: u32 = 0x20;
const REG_SVR: u32 = 0xf0;
const REG_ICR_LOW: u32 = 0x300;
const REG_ICR_HIGH: u32 = 0x310;
const REG_EOI: u32 = 0xb0;
const REG_LVT_TIMER: u32 = 0x320;
const REG_TIMER_INITIAL: u32 = 0x380;
const REG_TIMER_CURRENT: u32 = 0x390;
const REG_TIMER_DIVIDE: u32 = 0x3e0;

/// LVT mask bit (SDM 10.5.1).
pub const LVT_MASKED: u32 = 1 << 16;

const SVR_ENABLE: u32 = 1 << 8;
const SPURIOUS_VECTOR: u32 = 0xff;

const ICR_DELIVERY_PENDING: u32 = 1 << 12;
const ICR_LEVEL_ASSERT: u32 = 1 << 14;
const ICR_ALL_EXCLUDING_SELF: u32 = 0b11 << 18;

/// ICR delivery modes (bits 8-10).
#[derive(Debug, Clone, Copy)]
pub enum Delivery {
    /// A fixed vector (the wake IPI).
    Fixed = 0,
    /// Non-maskable interrupt.
    Nmi = 0b100 << 8,
    /// INIT (with level assert).
    Init = 0b101 << 8,
    /// Start-up IPI; the vector is the start page number.
    Startup = 0b110 << 8,
}

static X2APIC: AtomicBool = AtomicBool::new(false);
static READY: AtomicBool = AtomicBool::new(false);

/// Whether the BSP's APIC has been enabled (IPIs can be sent).
pub fn is_ready() -> bool {
    READY.load(Ordering::Acquire)
}
static XAPIC_BASE: AtomicU64 = AtomicU64::new(0xfee0_0000);

/// Whether the APIC runs in x2APIC mode.
pub fn is_x2apic() -> bool {
    X2APIC.load(Ordering::Relaxed)
}

/// Enables this core's local APIC (x2APIC mode when `x2apic`). Every core calls it.
pub fn init(x2apic: bool) {
    let mut base = Msr::new(IA32_APIC_BASE);
    // SAFETY: IA32_APIC_BASE exists on every x86-64 CPU with an APIC; we only set the enable
    // bits (and x2APIC mode, which CPUID said is supported) and keep the base address.
    unsafe {
        let v = base.read();
        XAPIC_BASE.store(v & 0x000f_ffff_ffff_f000, Ordering::Relaxed);
        let mut nv = v | APIC_BASE_ENABLE;
        if x2apic {
            nv |= APIC_BASE_X2APIC;
        }
        base.write(nv);
    }
    X2APIC.store(x2apic, Ordering::Relaxed);
    write(REG_SVR, SVR_ENABLE | SPURIOUS_VECTOR);
    READY.store(true, Ordering::Release);
}

fn read(reg: u32) -> u32 {
    if is_x2apic() {
        // SAFETY: x2APIC mode is enabled, so MSR 0x800 + reg/16 is the register.
        unsafe { Msr::new(0x800 + (reg >> 4)).read() as u32 }
    } else {
        let p = (XAPIC_BASE.load(Ordering::Relaxed) + u64::from(reg)) as *const u32;
        // SAFETY: the xAPIC page is identity mapped uncached (it lies in no RAM region) and
        // `reg` is a register offset within it.
        unsafe { p.read_volatile() }
    }
}

fn write(reg: u32, v: u32) {
    if is_x2apic() {
        // SAFETY: as in `read`.
        unsafe { Msr::new(0x800 + (reg >> 4)).write(u64::from(v)) }
    } else {
        let p = (XAPIC_BASE.load(Ordering::Relaxed) + u64::from(reg)) as *mut u32;
        // SAFETY: as in `read`.
        unsafe { p.write_volatile(v) }
    }
}

/// This core's APIC id.
pub fn id() -> u32 {
    if is_x2apic() {
        read(REG_ID)
    } else {
        read(REG_ID) >> 24
    }
}

/// Sends an IPI to `dest` (an APIC id), or to all other cores when `dest` is `None`.
/// Returns false if an xAPIC never reported the previous IPI delivered.
pub fn send_ipi(dest: Option<u32>, mode: Delivery, vector: u8) -> bool {
    let mut low = mode as u32 | u32::from(vector);
    if matches!(mode, Delivery::Init | Delivery::Nmi) {
        low |= ICR_LEVEL_ASSERT;
    }
    if dest.is_none() {
        low |= ICR_ALL_EXCLUDING_SELF;
    }
    let dest = dest.unwrap_or(0);
    if is_x2apic() {
        // SAFETY: x2APIC ICR is the 64-bit MSR 0x830; destination in the high half.
        unsafe { Msr::new(0x830).write((u64::from(dest) << 32) | u64::from(low)) };
        return true;
    }
    write(REG_ICR_HIGH, dest << 24);
    write(REG_ICR_LOW, low);
    // Bounded wait for the send to complete (SDM 10.6.1, delivery status).
    for _ in 0..1_000_000 {
        if read(REG_ICR_LOW) & ICR_DELIVERY_PENDING == 0 {
            return true;
        }
        core::hint::spin_loop();
    }
    false
}

/// Signals end of interrupt to this core's APIC.
pub fn eoi() {
    write(REG_EOI, 0);
}

/// Writes the timer's LVT entry, its divide configuration and initial count (in that order:
/// the LVT selects the mode before a count starts it).
pub fn set_timer(lvt: u32, divide: u32, initial: u32) {
    write(REG_LVT_TIMER, lvt);
    write(REG_TIMER_DIVIDE, divide);
    write(REG_TIMER_INITIAL, initial);
}

/// Starts (or with 0 stops) the one-shot timer.
pub fn set_timer_count(initial: u32) {
    write(REG_TIMER_INITIAL, initial);
}

/// The one-shot timer's current count.
pub fn timer_current() -> u32 {
    read(REG_TIMER_CURRENT)
}
