//! Monotonic time from the TSC, calibrated once at boot.
//!
//! Sources, first that answers wins: KVM's paravirtual clock (kvmclock: the host's TSC scale),
//! the hypervisor's TSC-frequency leaf (CPUID 0x40000010, VMware style), CPUID 0x15 (TSC/crystal ratio and crystal frequency), the PIT
//! (channel 0 read back by latch commands, 5 ms), the HPET (main counter, from the ACPI HPET
//! table), and last CPUID 0x16's nominal base frequency. The boot log states which one was
//! used. Every core reads the same TSC: x86 keeps TSCs synchronized across cores after reset,
//! and corenet does not write IA32_TSC.

use core::sync::atomic::{AtomicU64, Ordering};
use raw_cpuid::CpuId;
use x86_64::instructions::port::Port;

use crate::cpu::rdtsc;

static TSC_HZ: AtomicU64 = AtomicU64::new(0);

/// Where the TSC frequency came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockSource {
    /// KVM's paravirtual clock (its TSC-to-nanoseconds scale).
    Kvmclock,
    /// CPUID 0x40000010 (hypervisor).
    Hypervisor,
    /// CPUID 0x15 (crystal ratio).
    Cpuid15,
    /// Measured against the 8254 PIT.
    Pit,
    /// Measured against the HPET.
    Hpet,
    /// CPUID 0x16 nominal base frequency (not measured).
    Cpuid16,
}

impl ClockSource {
    /// Short name for logs and the ready line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Kvmclock => "kvmclock",
            Self::Hypervisor => "cpuid-hv",
            Self::Cpuid15 => "cpuid15",
            Self::Pit => "pit",
            Self::Hpet => "hpet",
            Self::Cpuid16 => "cpuid16",
        }
    }
}

/// Calibration failed: no source answered.
#[derive(Debug, Clone, Copy)]
pub struct NoClockSource;

impl core::fmt::Display for NoClockSource {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("no clock source to calibrate the TSC")
    }
}

impl core::error::Error for NoClockSource {}

/// The boot TSC recorded by the first instruction of `corenet_entry32`.
pub fn boot_tsc() -> u64 {
    // SAFETY: a plain u64 written once by the 32-bit entry before any Rust code ran.
    unsafe { core::ptr::addr_of!(corenet_boot::entry::corenet_boot_tsc).read_volatile() }
}

/// Measures the TSC frequency; `hpet` is the HPET's base address from ACPI, if any.
pub fn calibrate(hpet: Option<u64>) -> Result<(u64, ClockSource), NoClockSource> {
    let (hz, src) = from_kvmclock()
        .map(|h| (h, ClockSource::Kvmclock))
        .or_else(|| from_cpuid_hv().map(|h| (h, ClockSource::Hypervisor)))
        .or_else(|| from_cpuid15().map(|h| (h, ClockSource::Cpuid15)))
        .or_else(|| from_pit().map(|h| (h, ClockSource::Pit)))
        .or_else(|| hpet.and_then(from_hpet).map(|h| (h, ClockSource::Hpet)))
        .or_else(|| from_cpuid16().map(|h| (h, ClockSource::Cpuid16)))
        .ok_or(NoClockSource)?;
    TSC_HZ.store(hz, Ordering::Relaxed);
    Ok((hz, src))
}

/// TSC ticks per second (0 before calibration).
pub fn tsc_hz() -> u64 {
    TSC_HZ.load(Ordering::Relaxed)
}

fn ticks_to_ns(ticks: u64) -> u64 {
    let hz = tsc_hz();
    if hz == 0 {
        return 0;
    }
    ((u128::from(ticks) * 1_000_000_000) / u128::from(hz)) as u64
}

/// Nanoseconds since the first boot instruction (0 before calibration).
pub fn now_ns() -> u64 {
    ticks_to_ns(rdtsc().saturating_sub(boot_tsc()))
}

/// Microseconds since the first boot instruction (0 before calibration).
pub fn since_boot_us() -> u64 {
    now_ns() / 1000
}

/// Busy-waits at least `us` microseconds (returns at once before calibration).
pub fn delay_us(us: u64) {
    let hz = tsc_hz();
    let end = rdtsc() + us * (hz / 1_000_000);
    while rdtsc() < end {
        core::hint::spin_loop();
    }
}

/// `pvclock_vcpu_time_info` (Linux arch/x86/include/asm/pvclock-abi.h), 32 bytes.
#[repr(C, align(64))]
struct PvclockTime {
    version: u32,
    pad0: u32,
    tsc_timestamp: u64,
    system_time: u64,
    tsc_to_system_mul: u32,
    tsc_shift: i8,
    flags: u8,
    pad: [u8; 2],
}

/// TSC ticks per second from kvmclock's scale: `ns = ((tsc << shift) * mul) >> 32`.
pub fn kvmclock_hz(mul: u32, shift: i8) -> Option<u64> {
    if mul == 0 || !(-31..=31).contains(&shift) {
        return None;
    }
    let num: u128 = 1_000_000_000u128 << 32;
    let den = u128::from(mul);
    let hz = if shift >= 0 {
        num / (den << shift)
    } else {
        (num << (-shift)) / den
    };
    u64::try_from(hz).ok().filter(|&h| h > 1_000_000)
}

/// Asks KVM (signature "KVMKVMKVM", feature CLOCKSOURCE2) to fill a pvclock structure once.
fn from_kvmclock() -> Option<u64> {
    const KVM_FEATURE_CLOCKSOURCE2: u32 = 1 << 3;
    const MSR_KVM_SYSTEM_TIME_NEW: u32 = 0x4b56_4d01;
    let c = CpuId::new();
    let hv = c.get_hypervisor_info()?;
    if hv.identify() != raw_cpuid::Hypervisor::KVM {
        return None;
    }
    // CPUID leaf 0x40000001 exists under KVM (the signature leaf said so).
    let features = core::arch::x86_64::__cpuid(0x4000_0001).eax;
    if features & KVM_FEATURE_CLOCKSOURCE2 == 0 {
        return None;
    }
    static mut PVCLOCK: PvclockTime = PvclockTime {
        version: 0,
        pad0: 0,
        tsc_timestamp: 0,
        system_time: 0,
        tsc_to_system_mul: 0,
        tsc_shift: 0,
        flags: 0,
        pad: [0; 2],
    };
    let p = core::ptr::addr_of_mut!(PVCLOCK);
    let mut msr = x86_64::registers::model_specific::Msr::new(MSR_KVM_SYSTEM_TIME_NEW);
    // SAFETY: KVM advertised CLOCKSOURCE2; the structure is a static in identity-mapped RAM
    // (virt == phys), written only by the hypervisor while enabled; we disable it right after
    // reading, so no other code ever sees it change.
    let (mul, shift) = unsafe {
        msr.write(p as u64 | 1);
        let mut spins = 0;
        while core::ptr::addr_of!((*p).version).read_volatile() == 0 && spins < 1_000_000 {
            spins += 1;
            core::hint::spin_loop();
        }
        let r = (
            core::ptr::addr_of!((*p).tsc_to_system_mul).read_volatile(),
            core::ptr::addr_of!((*p).tsc_shift).read_volatile(),
        );
        msr.write(0);
        r
    };
    kvmclock_hz(mul, shift)
}

fn from_cpuid_hv() -> Option<u64> {
    let c = CpuId::new();
    let hv = c.get_hypervisor_info()?;
    let khz = hv.tsc_frequency()?;
    (khz > 0).then(|| u64::from(khz) * 1000)
}

fn from_cpuid15() -> Option<u64> {
    let t = CpuId::new().get_tsc_info()?;
    t.tsc_frequency().filter(|&hz| hz > 0)
}

fn from_cpuid16() -> Option<u64> {
    let f = CpuId::new().get_processor_frequency_info()?;
    let mhz = f.processor_base_frequency();
    (mhz > 0).then(|| u64::from(mhz) * 1_000_000)
}

const PIT_HZ: u64 = 1_193_182;

/// 8254 channel 0 counting down in mode 2 from 65536, read back with latch commands (8254
/// datasheet, "Counter Latch Command"). Channel 0's gate is wired high on every PC-compatible
/// platform, unlike channel 2's, which depends on port 0x61 (absent on microvm). Interrupts
/// are off, so its IRQ 0 never fires.
fn from_pit() -> Option<u64> {
    let mut cmd = Port::<u8>::new(0x43);
    let mut ch0 = Port::<u8>::new(0x40);
    let mut read = || {
        // SAFETY: ports 0x40/0x43 are the 8254's channel 0 and mode register; latching and
        // reading the count has no other effect.
        unsafe {
            cmd.write(0b0000_0000);
            let lo = ch0.read();
            let hi = ch0.read();
            u16::from_le_bytes([lo, hi])
        }
    };
    // SAFETY: as above; mode 2 (rate generator), lo/hi access, reload 0 = 65536.
    unsafe {
        Port::<u8>::new(0x43).write(0b0011_0100);
        Port::<u8>::new(0x40).write(0);
        Port::<u8>::new(0x40).write(0);
    }
    let want: u64 = PIT_HZ * 5 / 1000;
    let start = read();
    let t0 = rdtsc();
    let mut spins = 0u64;
    loop {
        let now = read();
        let t1 = rdtsc();
        let elapsed = u64::from(start.wrapping_sub(now));
        if elapsed >= want && elapsed < 60_000 {
            let hz = (t1 - t0) * PIT_HZ / elapsed;
            return (hz > 10_000_000).then_some(hz);
        }
        spins += 1;
        if spins > 5_000_000 {
            return None;
        }
    }
}

fn from_hpet(base: u64) -> Option<u64> {
    let reg = |off: u64| (base + off) as *mut u64;
    // SAFETY: `base` is the HPET block from the ACPI HPET table, identity mapped uncached
    // (device memory); registers are 64-bit at the offsets of the IA-PC HPET spec 2.3.
    unsafe {
        let period_fs = reg(0x0).read_volatile() >> 32;
        if period_fs == 0 || period_fs > 100_000_000 {
            return None;
        }
        reg(0x10).write_volatile(reg(0x10).read_volatile() | 1);
        let ticks = 5_000_000_000_000 / period_fs; // 5 ms in HPET ticks
        let h0 = reg(0xf0).read_volatile();
        let t0 = rdtsc();
        let mut spins = 0u64;
        while reg(0xf0).read_volatile().wrapping_sub(h0) < ticks {
            spins += 1;
            if spins > 50_000_000 {
                return None;
            }
        }
        let t1 = rdtsc();
        Some((t1 - t0) * 200)
    }
}
