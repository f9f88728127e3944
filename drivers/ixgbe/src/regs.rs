//! Register offsets and bit fields of the 82599 (datasheet section 8), names as in the datasheet.
//!
//! Offsets are byte offsets into BAR0. Queue-indexed registers are functions; the two address
//! ranges of the 128 receive queues (0-63 and 64-127) follow the datasheet's tables (8.2.3.8).

/// Device Control (8.2.3.1.1).
pub const CTRL: u32 = 0x00000;
/// CTRL: link reset.
pub const CTRL_LRST: u32 = 1 << 3;
/// CTRL: device (global) reset; self-clearing (4.6.3.2).
pub const CTRL_RST: u32 = 1 << 26;
/// Device Status (8.2.3.1.2).
pub const STATUS: u32 = 0x00008;
/// Extended Device Control (8.2.3.1.3).
pub const CTRL_EXT: u32 = 0x00018;
/// CTRL_EXT: No Snoop Disable.
pub const CTRL_EXT_NS_DIS: u32 = 1 << 16;
/// CTRL_EXT: driver loaded (tells firmware the driver owns the device).
pub const CTRL_EXT_DRV_LOAD: u32 = 1 << 28;
/// EEPROM/Flash Control (8.2.3.2.1).
pub const EEC: u32 = 0x10010;
/// EEC: EEPROM auto-read done.
pub const EEC_ARD: u32 = 1 << 9;

/// Extended Interrupt Cause Read (8.2.3.5.1).
pub const EICR: u32 = 0x00800;
/// Extended Interrupt Mask Set/Read (8.2.3.5.3).
pub const EIMS: u32 = 0x00880;
/// Extended Interrupt Mask Clear (8.2.3.5.4): writing 1s masks those causes.
pub const EIMC: u32 = 0x00888;
/// All interrupt causes that EIMC can mask (bit 31 is reserved).
pub const EIMC_ALL: u32 = 0x7FFF_FFFF;
/// Extended Interrupt Mask Set, vectors 0-31 (8.2.3.5.8; `EIMS_EX(0)`): in MSI-X mode the
/// per-vector mask Linux's ixgbe uses for queue vectors; bits 15:0 are EIMS's 15:0.
pub const EIMS_EX0: u32 = 0x00AA0;
/// Extended Interrupt Mask Clear, vectors 0-31 (8.2.3.5.9; `EIMC_EX(0)`).
pub const EIMC_EX0: u32 = 0x00AB0;
/// Extended Interrupt Auto Clear (8.2.3.5.5).
pub const EIAC: u32 = 0x00810;
/// Extended Interrupt Throttle of vector 0 (8.2.3.5.12); vector n at + 4n, n < 24.
pub const EITR: u32 = 0x00820;
/// General Purpose Interrupt Enable (8.2.3.5.18).
pub const GPIE: u32 = 0x00898;
/// GPIE: MSI-X mode (EICR bits are vectors, not causes).
pub const GPIE_MSIX_MODE: u32 = 1 << 4;
/// GPIE: PBA support (the MSI-X pending bits live in the PBA, as PCI requires).
pub const GPIE_PBA_SUPPORT: u32 = 1 << 31;
/// Interrupt Vector Allocation, register 0 of 64 (8.2.3.10.4).
pub const IVAR: u32 = 0x00900;
/// IVAR entry: the vector field is valid.
pub const IVAR_VALID: u32 = 1 << 7;

/// Receive DMA Control (8.2.3.8.8).
pub const RDRXCTL: u32 = 0x02F00;
/// RDRXCTL: strip the Ethernet CRC (must match HLREG0.RXCRCSTRP).
pub const RDRXCTL_CRCSTRIP: u32 = 1 << 1;
/// RDRXCTL: DMA initialization done (read only).
pub const RDRXCTL_DMAIDONE: u32 = 1 << 3;
/// RDRXCTL: RSCACKC and FCOE_WRFIX, which the datasheet says software must set (8.2.3.8.8).
pub const RDRXCTL_RSCACKC_FCOE_WRFIX: u32 = (1 << 25) | (1 << 26);

/// Auto-Negotiation Control (8.2.3.22.1).
pub const AUTOC: u32 = 0x042A0;
/// AUTOC: force link up.
pub const AUTOC_FLU: u32 = 1 << 0;
/// AUTOC: 10G PMA/PMD for parallel interfaces, bits 8:7 (00 = XAUI).
pub const AUTOC_10G_PMA_PMD_MASK: u32 = 0b11 << 7;
/// AUTOC: restart auto-negotiation (self-clearing).
pub const AUTOC_AN_RESTART: u32 = 1 << 12;
/// AUTOC: link mode select, bits 15:13.
pub const AUTOC_LMS_MASK: u32 = 0b111 << 13;
/// AUTOC.LMS = 011b: 10 GbE serial link (KR/SFI) with auto-negotiation where supported.
pub const AUTOC_LMS_10G_SERIAL: u32 = 0b011 << 13;
/// Link Status (8.2.3.22.2).
pub const LINKS: u32 = 0x042A4;
/// LINKS: link is up.
pub const LINKS_UP: u32 = 1 << 30;
/// LINKS: link speed field, bits 29:28.
pub const LINKS_SPEED_MASK: u32 = 0b11 << 28;
/// LINKS speed 10 Gb/s.
pub const LINKS_SPEED_10G: u32 = 0b11 << 28;
/// LINKS speed 1 Gb/s.
pub const LINKS_SPEED_1G: u32 = 0b10 << 28;
/// LINKS speed 100 Mb/s.
pub const LINKS_SPEED_100M: u32 = 0b01 << 28;

/// Receive Control (8.2.3.8.10).
pub const RXCTRL: u32 = 0x03000;
/// RXCTRL: receive enable.
pub const RXCTRL_RXEN: u32 = 1 << 0;
/// Filter Control (8.2.3.7.1).
pub const FCTRL: u32 = 0x05080;
/// FCTRL: multicast promiscuous.
pub const FCTRL_MPE: u32 = 1 << 8;
/// FCTRL: unicast promiscuous.
pub const FCTRL_UPE: u32 = 1 << 9;
/// FCTRL: broadcast accept.
pub const FCTRL_BAM: u32 = 1 << 10;
/// MAC Core Control 0 (8.2.3.22.8).
pub const HLREG0: u32 = 0x04240;
/// HLREG0: append the CRC on transmit.
pub const HLREG0_TXCRCEN: u32 = 1 << 0;
/// HLREG0: strip the CRC on receive.
pub const HLREG0_RXCRCSTRP: u32 = 1 << 1;
/// HLREG0: pad short frames to 64 bytes on transmit.
pub const HLREG0_TXPADEN: u32 = 1 << 10;
/// Receive Address Low, entry 0 (8.2.3.7.9): the MAC address loaded from the EEPROM.
pub const RAL0: u32 = 0x0A200;
/// Receive Address High, entry 0 (8.2.3.7.10); bit 31 is Address Valid.
pub const RAH0: u32 = 0x0A204;
/// RAH: address valid.
pub const RAH_AV: u32 = 1 << 31;

/// Byte offset of the register block of receive queue `n`: 0x01000 + 0x40*n for n < 64,
/// 0x0D000 + 0x40*(n-64) above (8.2.3.8).
pub const fn rx_queue_base(n: u16) -> u32 {
    let n = n as u32;
    if n < 64 {
        0x01000 + 0x40 * n
    } else {
        0x0D000 + 0x40 * (n - 64)
    }
}
/// Receive Descriptor Base Address Low.
pub const fn rdbal(n: u16) -> u32 {
    rx_queue_base(n)
}
/// Receive Descriptor Base Address High.
pub const fn rdbah(n: u16) -> u32 {
    rx_queue_base(n) + 0x04
}
/// Receive Descriptor Length in bytes (a multiple of 128).
pub const fn rdlen(n: u16) -> u32 {
    rx_queue_base(n) + 0x08
}
/// Receive Descriptor Head (written by hardware).
pub const fn rdh(n: u16) -> u32 {
    rx_queue_base(n) + 0x10
}
/// Split Receive Control.
pub const fn srrctl(n: u16) -> u32 {
    rx_queue_base(n) + 0x14
}
/// Receive Descriptor Tail: one past the last descriptor handed to hardware.
pub const fn rdt(n: u16) -> u32 {
    rx_queue_base(n) + 0x18
}
/// Receive Descriptor Control.
pub const fn rxdctl(n: u16) -> u32 {
    rx_queue_base(n) + 0x28
}
/// Queue Packets Received Count (8.2.3.23.71), queues 0-15.
pub const fn qprc(n: u16) -> u32 {
    0x01030 + 0x40 * n as u32
}
/// SRRCTL: receive buffer size field in 1 KB units, bits 4:0.
pub const SRRCTL_BSIZEPACKET_MASK: u32 = 0x1F;
/// SRRCTL: descriptor type bits 27:25.
pub const SRRCTL_DESCTYPE_MASK: u32 = 0b111 << 25;
/// SRRCTL.DESCTYPE = 001b: advanced descriptor, one buffer.
pub const SRRCTL_DESCTYPE_ADV_ONEBUF: u32 = 0b001 << 25;
/// SRRCTL: drop packets when no descriptor is free instead of stalling the packet buffer.
pub const SRRCTL_DROP_EN: u32 = 1 << 28;
/// RXDCTL / TXDCTL: queue enable.
pub const DCTL_ENABLE: u32 = 1 << 25;

/// DMA Tx Control (8.2.3.9.10).
pub const DMATXCTL: u32 = 0x04A80;
/// DMATXCTL: transmit enable.
pub const DMATXCTL_TE: u32 = 1 << 0;
/// DCB Transmit Descriptor Plane Control and Status (8.2.3.10.1).
pub const RTTDCS: u32 = 0x04900;
/// RTTDCS: descriptor arbiter disable, set while MTQC is changed (4.6.11.3.4).
pub const RTTDCS_ARBDIS: u32 = 1 << 6;
/// Multiple Transmit Queues Command (8.2.3.9.15); 0 = one packet buffer, no DCB, no VT.
pub const MTQC: u32 = 0x08120;

/// Transmit Descriptor Base Address Low (8.2.3.9.5).
pub const fn tdbal(n: u16) -> u32 {
    0x06000 + 0x40 * n as u32
}
/// Transmit Descriptor Base Address High.
pub const fn tdbah(n: u16) -> u32 {
    tdbal(n) + 0x04
}
/// Transmit Descriptor Length in bytes (a multiple of 128).
pub const fn tdlen(n: u16) -> u32 {
    tdbal(n) + 0x08
}
/// Transmit Descriptor Head.
pub const fn tdh(n: u16) -> u32 {
    tdbal(n) + 0x10
}
/// Transmit Descriptor Tail.
pub const fn tdt(n: u16) -> u32 {
    tdbal(n) + 0x18
}
/// Transmit Descriptor Control.
pub const fn txdctl(n: u16) -> u32 {
    tdbal(n) + 0x28
}
/// Transmit Descriptor Completion Write-Back Address Low; bit 0 enables head write-back.
pub const fn tdwbal(n: u16) -> u32 {
    tdbal(n) + 0x38
}
/// Transmit Descriptor Completion Write-Back Address High.
pub const fn tdwbah(n: u16) -> u32 {
    tdbal(n) + 0x3C
}
/// Queue Packets Transmitted Count (8.2.3.23.73), queues 0-15.
pub const fn qptc(n: u16) -> u32 {
    0x06030 + 0x40 * n as u32
}
/// TDWBAL: head write-back enable.
pub const TDWBAL_HEAD_WB_EN: u32 = 1 << 0;
/// TXDCTL: prefetch threshold, bits 6:0.
pub const TXDCTL_PTHRESH_SHIFT: u32 = 0;
/// TXDCTL: host threshold, bits 14:8.
pub const TXDCTL_HTHRESH_SHIFT: u32 = 8;
/// TXDCTL: write-back threshold, bits 22:16.
pub const TXDCTL_WTHRESH_SHIFT: u32 = 16;

/// Multiple Receive Queues Command (8.2.3.7.12).
pub const MRQC: u32 = 0x0EC80;
/// MRQC.MRQE = 0001b: RSS only.
pub const MRQC_MRQE_RSS: u32 = 0b0001;
/// MRQC.MRQE field, bits 3:0.
pub const MRQC_MRQE_MASK: u32 = 0b1111;
/// MRQC: hash TCP over IPv4 (addresses and ports).
pub const MRQC_RSS_TCP_IPV4: u32 = 1 << 16;
/// MRQC: hash IPv4 addresses.
pub const MRQC_RSS_IPV4: u32 = 1 << 17;
/// MRQC: hash UDP over IPv4 (addresses and ports).
pub const MRQC_RSS_UDP_IPV4: u32 = 1 << 22;
/// MRQC: hash IPv6 addresses.
pub const MRQC_RSS_IPV6: u32 = 1 << 20;
/// MRQC: hash TCP over IPv6 (addresses and ports).
pub const MRQC_RSS_TCP_IPV6: u32 = 1 << 21;
/// MRQC: hash UDP over IPv6 (addresses and ports).
pub const MRQC_RSS_UDP_IPV6: u32 = 1 << 23;
/// RSS Random Key register `n` of 10 (8.2.3.7.14); byte `4n + i` of the key in bits `8i+7:8i`.
pub const fn rssrk(n: u16) -> u32 {
    0x0EB80 + 4 * n as u32
}
/// Redirection Table register `n` of 32 (8.2.3.7.13); entry `4n + i` in bits `8i+3:8i`.
pub const fn reta(n: u16) -> u32 {
    0x0EB00 + 4 * n as u32
}
/// Receive Checksum Control (8.2.3.7.5).
pub const RXCSUM: u32 = 0x05000;
/// RXCSUM: report the RSS hash in the write-back instead of the fragment checksum.
pub const RXCSUM_PCSD: u32 = 1 << 13;

/// CRC Error Count (8.2.3.23.1); statistics registers clear on read (8.2.3.23).
pub const CRCERRS: u32 = 0x04000;
/// Receive Length Error Count.
pub const RLEC: u32 = 0x04040;
/// Missed Packets Count of packet buffer `n` (0-7).
pub const fn mpc(n: u16) -> u32 {
    0x03FA0 + 4 * n as u32
}
/// Good Packets Received Count.
pub const GPRC: u32 = 0x04074;
/// Good Packets Transmitted Count.
pub const GPTC: u32 = 0x04080;
/// Good Octets Received Count, low 32 bits.
pub const GORCL: u32 = 0x04088;
/// Good Octets Received Count, high 4 bits.
pub const GORCH: u32 = 0x0408C;
/// Good Octets Transmitted Count, low 32 bits.
pub const GOTCL: u32 = 0x04090;
/// Good Octets Transmitted Count, high 4 bits.
pub const GOTCH: u32 = 0x04094;

/// Queue count the driver's per-queue registers and statistics cover (QPRC/QPTC: 16 queues;
/// RETA entries are 4 bits wide, so RSS spreads over at most 16 queues).
pub const MAX_QUEUES: u16 = 16;

// Offsets checked against the datasheet's register summary (table 8-3) at compile time.
const _: () = assert!(rdbal(0) == 0x01000 && rdt(0) == 0x01018 && rxdctl(1) == 0x01068);
const _: () = assert!(rdbal(64) == 0x0D000 && srrctl(127) == 0x0D000 + 0x40 * 63 + 0x14);
const _: () = assert!(tdbal(0) == 0x06000 && tdt(1) == 0x06058 && tdwbal(0) == 0x06038);
const _: () = assert!(reta(31) == 0x0EB7C && rssrk(9) == 0x0EBA4 && rssrk(0) == reta(31) + 4);
const _: () = assert!(qprc(15) == 0x013F0 && qptc(15) == 0x063F0 && mpc(7) == 0x03FBC);
const _: () = assert!(GORCH == GORCL + 4 && GOTCH == GOTCL + 4 && GOTCL == GPTC + 0x10);
