//! CPU features corenet branches on, read once with CPUID (raw-cpuid).

use raw_cpuid::CpuId;
use spin::Once;

/// The CPUID answers that change corenet's behaviour.
#[derive(Debug, Clone, Copy)]
pub struct Features {
    /// 1 GiB pages (CPUID 0x80000001 EDX bit 26, "pdpe1gb").
    pub huge_1g: bool,
    /// No-execute page bit (CPUID 0x80000001 EDX bit 20).
    pub nx: bool,
    /// x2APIC mode (CPUID 1 ECX bit 21).
    pub x2apic: bool,
    /// RDRAND (CPUID 1 ECX bit 30).
    pub rdrand: bool,
    /// RDSEED (CPUID 7 EBX bit 18).
    pub rdseed: bool,
    /// Invariant TSC (CPUID 0x80000007 EDX bit 8).
    pub invariant_tsc: bool,
    /// Running under a hypervisor (CPUID 1 ECX bit 31).
    pub hypervisor: bool,
}

static FEATURES: Once<Features> = Once::new();

/// The features of this machine (read on first use; all cores are assumed alike).
pub fn get() -> &'static Features {
    FEATURES.call_once(|| {
        let c = CpuId::new();
        let fi = c.get_feature_info();
        let ext = c.get_extended_processor_and_feature_identifiers();
        Features {
            huge_1g: ext.as_ref().is_some_and(|e| e.has_1gib_pages()),
            nx: ext.as_ref().is_some_and(|e| e.has_execute_disable()),
            x2apic: fi.as_ref().is_some_and(|f| f.has_x2apic()),
            rdrand: fi.as_ref().is_some_and(|f| f.has_rdrand()),
            rdseed: c
                .get_extended_feature_info()
                .is_some_and(|f| f.has_rdseed()),
            invariant_tsc: c
                .get_advanced_power_mgmt_info()
                .is_some_and(|p| p.has_invariant_tsc()),
            hypervisor: fi.as_ref().is_some_and(|f| f.has_hypervisor()),
        }
    })
}
