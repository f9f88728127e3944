//! The Intel 82576 (`igb`): its device ids, the registers where it differs from the 82599, and
//! the steps of its initialization sequence (82576 datasheet section 4.5) that are its own.
//!
//! Queues, descriptors, buffers, RSS and statistics are the 82599 code's ([`crate::init`] with
//! [`crate::family::Family::I82576`]); this module holds what the 82576 does differently:
//! reset through CTRL.RST with EECD's auto-read, link through CTRL.SLU and STATUS, receive and
//! transmit enabled by RCTL and TCTL instead of RXCTRL/FCTRL/HLREG0/DMATXCTL.

use crate::delay::{Delay, wait_for};
use crate::mmio::RegisterAccess;

/// Device ids of the 82576 family (QEMU's `-device igb` is 0x10C9).
pub const DEVICE_IDS: &[(u16, &str)] = &[
    (0x10C9, "82576"),
    (0x10E6, "82576 fiber"),
    (0x10E7, "82576 serdes"),
    (0x10E8, "82576 quad copper"),
    (0x1526, "82576 quad copper ET2"),
    (0x150A, "82576NS"),
    (0x1518, "82576NS serdes"),
    (0x150D, "82576 serdes quad"),
];

/// Device Control (8.2.1).
pub const CTRL: u32 = 0x00000;
/// CTRL: set link up (the MAC follows the PHY's link).
pub const CTRL_SLU: u32 = 1 << 6;
/// CTRL: device reset, self-clearing (4.3.1).
pub const CTRL_RST: u32 = 1 << 26;
/// Device Status (8.2.2).
pub const STATUS: u32 = 0x00008;
/// STATUS: link up.
pub const STATUS_LU: u32 = 1 << 1;
/// STATUS: speed, bits 7:6 (00 10 Mb/s, 01 100 Mb/s, 1x 1000 Mb/s).
pub const STATUS_SPEED_MASK: u32 = 0b11 << 6;
/// STATUS speed 100 Mb/s.
pub const STATUS_SPEED_100: u32 = 0b01 << 6;
/// EEPROM/Flash Control (8.4.1).
pub const EECD: u32 = 0x00010;
/// EECD: EEPROM auto-read done.
pub const EECD_AUTO_RD: u32 = 1 << 9;
/// Extended Device Control (8.2.3); DRV_LOAD is bit 28 as on the 82599.
pub const CTRL_EXT: u32 = 0x00018;
/// MDI Control (8.2.4): reads and writes the PHY's registers.
pub const MDIC: u32 = 0x00020;
/// MDIC: PHY address 1 (bits 25:21), the internal PHY.
pub const MDIC_PHY_ADDR: u32 = 1 << 21;
/// MDIC: register address shift (bits 20:16).
pub const MDIC_REG_SHIFT: u32 = 16;
/// MDIC: opcode write (bits 27:26 = 01b).
pub const MDIC_OP_WRITE: u32 = 0b01 << 26;
/// MDIC: ready (the access completed).
pub const MDIC_READY: u32 = 1 << 28;
/// MDIC: error.
pub const MDIC_ERROR: u32 = 1 << 30;
/// PHY Control register (IEEE 802.3 clause 22, register 0).
pub const PHY_CTRL: u32 = 0;
/// PHY_CTRL: auto-negotiation enable, restart auto-negotiation, full duplex, 1000 Mb/s.
pub const PHY_CTRL_AUTONEG_RESTART: u32 = (1 << 12) | (1 << 9) | (1 << 8) | (1 << 6);
/// Interrupt Mask Clear (8.8.11).
pub const IMC: u32 = 0x000D8;
/// Extended Interrupt Mask Clear (8.8.7).
pub const EIMC: u32 = 0x01528;
/// General Purpose Interrupt Enable (8.8.13); the MSI-X mode and PBA bits are the 82599's.
pub const GPIE: u32 = 0x01514;
/// Extended Interrupt Mask Set (8.8.6).
pub const EIMS: u32 = 0x01524;
/// Extended Interrupt Auto Clear (8.8.8).
pub const EIAC: u32 = 0x0152C;
/// Extended Interrupt Cause Read (8.8.4).
pub const EICR: u32 = 0x01580;
/// Extended Interrupt Throttle of vector 0 (8.8.12); vector n at + 4n.
pub const EITR: u32 = 0x01680;
/// Interrupt Vector Allocation, register 0 of 8 (8.8.15).
pub const IVAR0: u32 = 0x01700;

/// Receive Control (8.10.1).
pub const RCTL: u32 = 0x00100;
/// RCTL: receiver enable.
pub const RCTL_EN: u32 = 1 << 1;
/// RCTL: unicast promiscuous.
pub const RCTL_UPE: u32 = 1 << 3;
/// RCTL: multicast promiscuous.
pub const RCTL_MPE: u32 = 1 << 4;
/// RCTL: broadcast accept.
pub const RCTL_BAM: u32 = 1 << 15;
/// RCTL: strip the Ethernet CRC.
pub const RCTL_SECRC: u32 = 1 << 26;
/// Transmit Control (8.12.1).
pub const TCTL: u32 = 0x00400;
/// TCTL: transmit enable.
pub const TCTL_EN: u32 = 1 << 1;
/// TCTL: pad short packets.
pub const TCTL_PSP: u32 = 1 << 3;
/// TCTL: collision threshold 15 (bits 11:4) and distance 63 (bits 21:12), the datasheet's
/// full-duplex values.
pub const TCTL_CT_COLD: u32 = (15 << 4) | (63 << 12);

/// First receive queue's register block (queue n at + 0x40 * n, 16 queues).
pub const RX_QUEUE_BASE: u32 = 0x0C000;
/// First transmit queue's register block.
pub const TX_QUEUE_BASE: u32 = 0x0E000;
/// SRRCTL: drop when no descriptor is free (bit 31 on the 82576).
pub const SRRCTL_DROP_EN: u32 = 1 << 31;

/// Multiple Receive Queues Command (8.10.14).
pub const MRQC: u32 = 0x05818;
/// MRQC.MRQE = 010b: RSS, no virtualisation.
pub const MRQC_ENABLE_RSS: u32 = 0b010;
/// MRQC: hash TCP over IPv6 with extension headers (bit 18).
pub const MRQC_RSS_TCP_IPV6_EX: u32 = 1 << 18;
/// Redirection table, 32 registers (8.10.13).
pub const RETA: u32 = 0x05C00;
/// RSS random key, 10 registers (8.10.15).
pub const RSSRK: u32 = 0x05C80;
/// Receive Address Low, entry 0; RAH0 follows.
pub const RAL0: u32 = 0x05400;

/// Missed Packets Count (one register on the 82576, eight on the 82599).
pub const MPC: u32 = 0x04010;

// The datasheet's register summary (table 8-2).
const _: () = assert!(RETA + 4 * 32 == RSSRK && MRQC == 0x5818 && RAL0 == 0x5400);

const RESET_SETTLE_US: u32 = 1_000;
const RESET_BUDGET_US: u32 = 10_000;
const EEPROM_BUDGET_US: u32 = 50_000;
const MDIC_BUDGET_US: u32 = 10_000;
const POLL_US: u32 = 100;

/// Why a step of the 82576 sequence failed (mapped to [`crate::InitError`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StepError {
    Reset,
    Phy,
}

/// 4.5.1-4.5.3: mask every interrupt, global reset, wait for it and for the EEPROM auto-read.
/// The auto-read wait is bounded but not fatal: QEMU's model never sets EECD.AUTO_RD, and a
/// part without an EEPROM does not either (Linux's igb goes on too); the MAC address then
/// comes from RAL0/RAH0 if valid.
pub(crate) fn reset(r: &impl RegisterAccess, delay: &mut impl Delay) -> Result<(), StepError> {
    r.write32(IMC, u32::MAX);
    r.write32(EIMC, u32::MAX);
    r.write32(CTRL, r.read32(CTRL) | CTRL_RST);
    delay.delay_us(RESET_SETTLE_US);
    if !wait_for(delay, RESET_BUDGET_US, POLL_US, || {
        r.read32(CTRL) & CTRL_RST == 0
    }) {
        return Err(StepError::Reset);
    }
    // Reset leaves interrupts masked, but the datasheet masks again after it (4.5.3).
    r.write32(IMC, u32::MAX);
    r.write32(EIMC, u32::MAX);
    wait_for(delay, EEPROM_BUDGET_US, POLL_US, || {
        r.read32(EECD) & EECD_AUTO_RD != 0
    });
    Ok(())
}

/// 4.5.7.2: copper link with auto-negotiation: CTRL.SLU makes the MAC follow the PHY, and the
/// PHY restarts auto-negotiation (after a device reset QEMU's model reports no link until it
/// is told to). The link comes up in the background; STATUS.LU reports it.
pub(crate) fn setup_link(r: &impl RegisterAccess, delay: &mut impl Delay) -> Result<(), StepError> {
    r.write32(CTRL, r.read32(CTRL) | CTRL_SLU);
    r.write32(
        MDIC,
        MDIC_OP_WRITE | MDIC_PHY_ADDR | PHY_CTRL << MDIC_REG_SHIFT | PHY_CTRL_AUTONEG_RESTART,
    );
    let mut mdic = 0;
    if !wait_for(delay, MDIC_BUDGET_US, POLL_US, || {
        mdic = r.read32(MDIC);
        mdic & MDIC_READY != 0
    }) || mdic & MDIC_ERROR != 0
    {
        return Err(StepError::Phy);
    }
    Ok(())
}

/// Receive off while the queues are programmed (4.5.9).
pub(crate) fn rx_disable(r: &impl RegisterAccess) {
    r.write32(RCTL, 0);
}

/// Receive on: our address, broadcast, every multicast (IPv6 Neighbor Discovery uses
/// solicited-node and all-nodes groups; the stack filters by IP), CRC stripped, 2 KiB buffers
/// (SRRCTL.BSIZEPACKET overrides RCTL.BSIZE).
pub(crate) fn rx_enable(r: &impl RegisterAccess, promiscuous: bool) {
    let mut rctl = RCTL_EN | RCTL_BAM | RCTL_MPE | RCTL_SECRC;
    if promiscuous {
        rctl |= RCTL_UPE;
    }
    r.write32(RCTL, rctl);
}

/// Transmit on (4.5.10): pad short frames, full-duplex collision settings.
pub(crate) fn tx_enable(r: &impl RegisterAccess) {
    r.write32(TCTL, TCTL_EN | TCTL_PSP | TCTL_CT_COLD);
}

/// STATUS as (link up, speed).
pub(crate) fn link(r: &impl RegisterAccess) -> (bool, crate::LinkSpeed) {
    let s = r.read32(STATUS);
    let speed = match s & STATUS_SPEED_MASK {
        0 => crate::LinkSpeed::M10,
        STATUS_SPEED_100 => crate::LinkSpeed::M100,
        _ => crate::LinkSpeed::G1,
    };
    (s & STATUS_LU != 0, speed)
}
