//! PCI identity of the devices this driver serves.
//!
//! Enumeration is the kernel's job: it finds a function with one of these ids, maps BAR0
//! (memory, 512 KB on the 82599) uncached, sets Bus Master Enable and Memory Space Enable in the
//! PCI command register, then hands the mapping to [`crate::mmio::Mmio::new`].

/// Intel's PCI vendor id.
pub const VENDOR_INTEL: u16 = 0x8086;

/// Device ids of the 82599 family and the later parts whose data path and init sequence
/// (for what this driver uses) are the same.
pub const DEVICE_IDS: &[(u16, &str)] = &[
    (0x10F7, "82599 KX4"),
    (0x10F8, "82599 combined backplane"),
    (0x10F9, "82599 CX4"),
    (0x10FB, "82599 SFP+"),
    (0x10FC, "82599 XAUI LOM"),
    (0x1507, "82599 SFP+ EM"),
    (0x1514, "82599 KX4 mezzanine"),
    (0x1517, "82599 KR"),
    (0x151C, "82599 10GBASE-T LOM"),
    (0x1529, "82599 SFP+ FCoE"),
    (0x152A, "82599 backplane FCoE"),
    (0x154D, "82599 SFP+ SF2"),
    (0x1557, "82599EN SFP+"),
    (0x1528, "X540-T"),
    (0x1560, "X540-T1"),
    (0x1563, "X550-T"),
    (0x15D1, "X550-T1"),
];

/// Whether `(vendor, device)` names a function this driver can drive.
pub fn is_supported(vendor: u16, device: u16) -> bool {
    vendor == VENDOR_INTEL && DEVICE_IDS.iter().any(|&(id, _)| id == device)
}

/// Bytes of BAR0 the driver touches: every register it uses lies below 128 KB (the highest,
/// EEC, is at 0x10010), which is the smallest memory BAR the 82599 exposes.
pub const BAR0_LEN: usize = 128 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_82599_sfp_and_rejects_others() {
        assert!(is_supported(0x8086, 0x10FB));
        assert!(is_supported(0x8086, 0x1528));
        assert!(!is_supported(0x8086, 0x100E));
        assert!(!is_supported(0x1AF4, 0x10FB));
    }
}
