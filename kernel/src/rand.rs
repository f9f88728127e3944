//! Random seeds: RDSEED, else RDRAND, else a documented non-cryptographic fallback.
//!
//! Seeds go to the network stacks (initial sequence numbers, ephemeral ports). QEMU's default
//! `qemu64` CPU has neither instruction; the fallback then mixes TSC readings taken around
//! memory accesses (their low bits jitter under virtualization and on hardware) with the core
//! id through SplitMix64. That is unpredictable enough to avoid smoltcp's fixed seed, not a
//! cryptographic source: appliances that need one must run on a CPU with RDSEED/RDRAND.

use crate::cpu::{features, rdtsc};

/// Where a seed came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RandomSource {
    /// RDSEED (entropy source).
    Rdseed,
    /// RDRAND (DRBG).
    Rdrand,
    /// TSC jitter (not cryptographic).
    TscJitter,
}

impl RandomSource {
    /// Short name for logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Rdseed => "rdseed",
            Self::Rdrand => "rdrand",
            Self::TscJitter => "tsc-jitter",
        }
    }
}

/// SplitMix64 step.
pub fn splitmix64(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A 64-bit seed and its source.
pub fn seed() -> (u64, RandomSource) {
    let f = features::get();
    if f.rdseed {
        for _ in 0..32 {
            let mut v = 0u64;
            // SAFETY: CPUID says RDSEED exists; the intrinsic only writes `v`.
            if unsafe { core::arch::x86_64::_rdseed64_step(&mut v) } == 1 {
                return (v, RandomSource::Rdseed);
            }
        }
    }
    if f.rdrand {
        for _ in 0..32 {
            let mut v = 0u64;
            // SAFETY: CPUID says RDRAND exists; the intrinsic only writes `v`.
            if unsafe { core::arch::x86_64::_rdrand64_step(&mut v) } == 1 {
                return (v, RandomSource::Rdrand);
            }
        }
    }
    let mut x = crate::cpu::core_id() as u64 ^ 0x0063_6f72_656e_6574;
    let mut scratch = [0u64; 64];
    for i in 0..256 {
        let t = rdtsc();
        scratch[(t as usize ^ i) % 64] ^= t;
        x ^= t.rotate_left((i % 64) as u32);
        splitmix64(&mut x);
    }
    x ^= core::hint::black_box(&scratch)
        .iter()
        .fold(0, |a, &v| a ^ v);
    (splitmix64(&mut x), RandomSource::TscJitter)
}
