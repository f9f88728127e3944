//! The Intel devices this driver serves and where they differ: one place for every per-device
//! register offset, bit and limit the shared code needs.
//!
//! The 82599 (10 GbE) and the 82576 (1 GbE, QEMU's `-device igb`) share the advanced receive
//! and transmit descriptors ([`crate::desc`]), the per-queue register block layout (base, length,
//! head, tail, control, head write-back), the RSS key/indirection-table encoding (4-bit queue
//! entries, 128 entries indexed by the hash's low 7 bits) and the MRQC hash-field bits. They
//! differ in where those blocks sit, in SRRCTL's offset and drop bit, in MRQC's enable
//! encoding, and in the global receive/transmit/link/reset registers ([`crate::igb`] for the
//! 82576; [`crate::regs`] for the 82599).

use crate::igb;
use crate::regs;

/// Which device, and so which register map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Family {
    /// Intel 82599 and the X540/X550 parts that share what this driver uses.
    #[default]
    X82599,
    /// Intel 82576 (`igb`), as QEMU 8.0 and later emulate it.
    I82576,
}

impl Family {
    /// The family of PCI device `device` (Intel vendor id assumed), if this driver serves it.
    pub fn of_device(device: u16) -> Option<Self> {
        if crate::pci::DEVICE_IDS.iter().any(|&(id, _)| id == device) {
            Some(Self::X82599)
        } else if igb::DEVICE_IDS.iter().any(|&(id, _)| id == device) {
            Some(Self::I82576)
        } else {
            None
        }
    }

    /// A short name for logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::X82599 => "82599",
            Self::I82576 => "82576",
        }
    }

    /// Most queue pairs RSS spreads over: 16 on the 82599 (RETA's 4-bit entries); 8 on the
    /// 82576, which has 16 queues but whose RSS without virtualisation uses 8 (datasheet
    /// 7.1.1.7; Linux's igb uses at most 8 too).
    pub fn max_queues(self) -> u16 {
        match self {
            Self::X82599 => regs::MAX_QUEUES,
            Self::I82576 => 8,
        }
    }

    /// Offset of receive queue `q`'s register block (RDBAL is at offset 0 in it).
    pub fn rx_block(self, q: u16) -> u32 {
        match self {
            Self::X82599 => regs::rx_queue_base(q),
            Self::I82576 => igb::RX_QUEUE_BASE + 0x40 * u32::from(q),
        }
    }

    /// Offset of transmit queue `q`'s register block (TDBAL is at offset 0 in it).
    pub fn tx_block(self, q: u16) -> u32 {
        match self {
            Self::X82599 => regs::tdbal(q),
            Self::I82576 => igb::TX_QUEUE_BASE + 0x40 * u32::from(q),
        }
    }

    /// SRRCTL of receive queue `q`: 0x14 into the block on the 82599, 0x0C on the 82576.
    pub fn srrctl(self, q: u16) -> u32 {
        match self {
            Self::X82599 => regs::srrctl(q),
            Self::I82576 => self.rx_block(q) + 0x0C,
        }
    }

    /// SRRCTL's "drop when no descriptor is free" bit (82599 bit 28, 82576 bit 31).
    pub fn srrctl_drop_en(self) -> u32 {
        match self {
            Self::X82599 => regs::SRRCTL_DROP_EN,
            Self::I82576 => igb::SRRCTL_DROP_EN,
        }
    }

    /// Multiple Receive Queues Command.
    pub fn mrqc(self) -> u32 {
        match self {
            Self::X82599 => regs::MRQC,
            Self::I82576 => igb::MRQC,
        }
    }

    /// MRQC value for RSS over IPv4/IPv6, TCP and UDP, no virtualisation. The hash-field bits
    /// are the same on both; the enable field differs (82599 MRQE 0001b, 82576 MRQE 010b),
    /// and the 82576 also gets TcpIPv6Ex (bit 18), which QEMU's model uses to hash TCP/IPv6.
    pub fn mrqc_rss(self) -> u32 {
        let fields = regs::MRQC_RSS_IPV4
            | regs::MRQC_RSS_TCP_IPV4
            | regs::MRQC_RSS_UDP_IPV4
            | regs::MRQC_RSS_IPV6
            | regs::MRQC_RSS_TCP_IPV6
            | regs::MRQC_RSS_UDP_IPV6;
        match self {
            Self::X82599 => regs::MRQC_MRQE_RSS | fields,
            Self::I82576 => igb::MRQC_ENABLE_RSS | igb::MRQC_RSS_TCP_IPV6_EX | fields,
        }
    }

    /// Redirection table register `n` of 32.
    pub fn reta(self, n: u16) -> u32 {
        match self {
            Self::X82599 => regs::reta(n),
            Self::I82576 => igb::RETA + 4 * u32::from(n),
        }
    }

    /// RSS random key register `n` of 10.
    pub fn rssrk(self, n: u16) -> u32 {
        match self {
            Self::X82599 => regs::rssrk(n),
            Self::I82576 => igb::RSSRK + 4 * u32::from(n),
        }
    }

    /// Receive Address Low/High, entry 0 (the EEPROM's MAC address).
    pub fn ral0_rah0(self) -> (u32, u32) {
        match self {
            Self::X82599 => (regs::RAL0, regs::RAH0),
            Self::I82576 => (igb::RAL0, igb::RAL0 + 4),
        }
    }
}

/// Where each family keeps its extended interrupt registers (MSI-X mode, [`crate::msix`]).
/// In MSI-X mode bit `v` of EICR/EIMS/EIMC/EIAC (82599: EIMS_EX(0)/EIMC_EX(0)) is vector `v`
/// on both devices (82599 8.2.3.5, 82576 8.8); the driver uses vectors 0..16 only, one per
/// receive queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IrqRegs {
    /// Extended Interrupt Cause Read (write 1 to clear).
    pub eicr: u32,
    /// Extended Interrupt Mask Set (write 1 to unmask).
    pub eims: u32,
    /// Extended Interrupt Mask Clear (write 1 to mask).
    pub eimc: u32,
    /// Extended Interrupt Auto Clear: EICR bits cleared when their message is sent.
    pub eiac: u32,
    /// General Purpose Interrupt Enable (MSI-X mode, PBA support).
    pub gpie: u32,
}

impl Family {
    /// The extended interrupt registers.
    pub fn irq_regs(self) -> IrqRegs {
        match self {
            // The 82599's queue vectors are masked through the extended registers, as Linux's
            // ixgbe does (EIMS/EIMC bits 15:0 alias them).
            Self::X82599 => IrqRegs {
                eicr: regs::EICR,
                eims: regs::EIMS_EX0,
                eimc: regs::EIMC_EX0,
                eiac: regs::EIAC,
                gpie: regs::GPIE,
            },
            Self::I82576 => IrqRegs {
                eicr: igb::EICR,
                eims: igb::EIMS,
                eimc: igb::EIMC,
                eiac: igb::EIAC,
                gpie: igb::GPIE,
            },
        }
    }

    /// The IVAR register and bit shift of receive queue `q`'s 8-bit entry (vector, valid bit
    /// 7). 82599 (8.2.3.10.4): IVAR(q / 2), receive entries at bits 7:0 (even q) and 23:16
    /// (odd q). 82576 (8.8.15): IVAR0[q % 8], receive entries at bits 7:0 (q < 8) and 23:16
    /// (q >= 8).
    pub fn ivar_rx(self, q: u16) -> (u32, u32) {
        let q = u32::from(q);
        match self {
            Self::X82599 => (regs::IVAR + 4 * (q / 2), 16 * (q % 2)),
            Self::I82576 => (igb::IVAR0 + 4 * (q % 8), 16 * ((q / 8) % 2)),
        }
    }

    /// Interrupt throttle register of vector `v` (v < 24 on the 82599, < 25 on the 82576).
    pub fn eitr(self, v: u16) -> u32 {
        match self {
            Self::X82599 => regs::EITR + 4 * u32::from(v),
            Self::I82576 => igb::EITR + 4 * u32::from(v),
        }
    }
}

// Register offsets of the per-queue blocks, checked against both datasheets' tables.
const _: () = assert!(igb::RX_QUEUE_BASE + 0x18 == 0x0C018 && igb::TX_QUEUE_BASE + 0x38 == 0x0E038);

/// Offsets inside a receive or transmit queue block, shared by both families.
pub mod block {
    /// Descriptor base address, low 32 bits.
    pub const BAL: u32 = 0x00;
    /// Descriptor base address, high 32 bits.
    pub const BAH: u32 = 0x04;
    /// Ring length in bytes.
    pub const LEN: u32 = 0x08;
    /// Head (written by the device).
    pub const HEAD: u32 = 0x10;
    /// Tail (written by the driver).
    pub const TAIL: u32 = 0x18;
    /// RXDCTL / TXDCTL.
    pub const DCTL: u32 = 0x28;
    /// Transmit head write-back address, low (bit 0 enables it).
    pub const WBAL: u32 = 0x38;
    /// Transmit head write-back address, high.
    pub const WBAH: u32 = 0x3C;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_82599_layout_is_the_registers_module() {
        let f = Family::X82599;
        assert_eq!(f.rx_block(3) + block::TAIL, regs::rdt(3));
        assert_eq!(f.rx_block(70) + block::DCTL, regs::rxdctl(70));
        assert_eq!(f.tx_block(2) + block::WBAL, regs::tdwbal(2));
        assert_eq!(f.srrctl(5), regs::srrctl(5));
    }

    #[test]
    fn the_82576_layout_follows_its_datasheet() {
        let f = Family::I82576;
        assert_eq!(f.rx_block(1) + block::TAIL, 0x0C058);
        assert_eq!(f.srrctl(0), 0x0C00C);
        assert_eq!(f.tx_block(7) + block::DCTL, 0x0E000 + 7 * 0x40 + 0x28);
        assert_eq!(f.mrqc(), 0x5818);
        assert_eq!((f.reta(31), f.rssrk(9)), (0x5C7C, 0x5CA4));
        assert_eq!(f.mrqc_rss() & 0b111, 0b010);
        assert_eq!(Family::of_device(0x10C9), Some(Family::I82576));
        assert_eq!(Family::of_device(0x10FB), Some(Family::X82599));
        assert_eq!(Family::of_device(0x100E), None);
    }

    #[test]
    fn interrupt_registers_follow_both_datasheets() {
        let (a, b) = (Family::X82599.irq_regs(), Family::I82576.irq_regs());
        assert_eq!(
            (a.eicr, a.eims, a.eimc, a.eiac, a.gpie),
            (0x800, 0xAA0, 0xAB0, 0x810, 0x898)
        );
        assert_eq!(
            (b.eicr, b.eims, b.eimc, b.eiac, b.gpie),
            (0x1580, 0x1524, 0x1528, 0x152C, 0x1514)
        );
        assert_eq!(Family::X82599.ivar_rx(0), (0x900, 0));
        assert_eq!(Family::X82599.ivar_rx(3), (0x904, 16));
        assert_eq!(Family::I82576.ivar_rx(3), (0x170C, 0));
        assert_eq!(Family::I82576.ivar_rx(9), (0x1704, 16));
        assert_eq!(
            (Family::X82599.eitr(2), Family::I82576.eitr(2)),
            (0x828, 0x1688)
        );
    }
}
