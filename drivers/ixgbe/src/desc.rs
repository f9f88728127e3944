//! Advanced receive and transmit descriptor layouts (datasheet 7.1.6 and 7.2.3.2.4).
//!
//! Descriptors are 16 bytes in little-endian DMA memory. They are accessed field by field
//! through [`crate::dma::DmaMem`] (volatile), so these are offsets and bit masks, not structs.

/// Size of every descriptor in bytes.
pub const DESC_SIZE: usize = 16;

// --- Advanced receive descriptor, read format (7.1.6.1): what software hands the device. ---

/// Read format: packet buffer address (bytes 0-7).
pub const RX_READ_PKT_ADDR: usize = 0;
/// Read format: header buffer address (bytes 8-15). Without header split its bit 0 is where
/// the device later writes DD, so software writes 0 here.
pub const RX_READ_HDR_ADDR: usize = 8;

// --- Advanced receive descriptor, write-back format (7.1.6.2): what the device returns. ---

/// Write-back dword 0: RSS type (bits 3:0), packet type (bits 16:4), header length, SPH.
pub const RX_WB_INFO: usize = 0;
/// Write-back dword 1: RSS hash (when RXCSUM.PCSD is set) or fragment checksum / IP id.
pub const RX_WB_RSS_HASH: usize = 4;
/// Write-back dword 2: extended status (bits 19:0) and extended errors (bits 31:20).
pub const RX_WB_STATUS_ERROR: usize = 8;
/// Write-back dword 3: packet length of this descriptor's buffer (bits 15:0), VLAN tag.
pub const RX_WB_LEN_VLAN: usize = 12;

/// RSS type field of dword 0.
pub const RX_WB_RSSTYPE_MASK: u32 = 0xF;
/// RSS type: no hash computed.
pub const RSSTYPE_NONE: u32 = 0x0;
/// RSS type: TCP over IPv4.
pub const RSSTYPE_IPV4_TCP: u32 = 0x1;
/// RSS type: IPv4 addresses only.
pub const RSSTYPE_IPV4: u32 = 0x2;
/// RSS type: UDP over IPv4.
pub const RSSTYPE_IPV4_UDP: u32 = 0x7;
/// RSS type: TCP over IPv6.
pub const RSSTYPE_IPV6_TCP: u32 = 0x3;
/// RSS type: IPv6 addresses only.
pub const RSSTYPE_IPV6: u32 = 0x5;
/// RSS type: UDP over IPv6.
pub const RSSTYPE_IPV6_UDP: u32 = 0x8;

/// Status: descriptor done.
pub const RX_STAT_DD: u32 = 1 << 0;
/// Status: end of packet.
pub const RX_STAT_EOP: u32 = 1 << 1;
/// Status: L4 (TCP/UDP) checksum was computed.
pub const RX_STAT_L4CS: u32 = 1 << 5;
/// Status: IPv4 header checksum was computed.
pub const RX_STAT_IPCS: u32 = 1 << 6;
/// Error: CRC error.
pub const RX_ERR_CE: u32 = 1 << 24;
/// Error: length error.
pub const RX_ERR_LE: u32 = 1 << 25;
/// Error: packet error.
pub const RX_ERR_PE: u32 = 1 << 27;
/// Error: oversize.
pub const RX_ERR_OSE: u32 = 1 << 28;
/// Error: undersize.
pub const RX_ERR_USE: u32 = 1 << 29;
/// Error: TCP/UDP checksum error.
pub const RX_ERR_TCPE: u32 = 1 << 30;
/// Error: IPv4 checksum error.
pub const RX_ERR_IPE: u32 = 1 << 31;
/// Errors that make the frame itself bad: it is dropped. Checksum errors are not in here:
/// such a frame is delivered with `csum_ok = false` and software decides.
pub const RX_ERR_FRAME: u32 = RX_ERR_CE | RX_ERR_LE | RX_ERR_PE | RX_ERR_OSE | RX_ERR_USE;

// --- Advanced transmit data descriptor (7.2.3.2.4 read, 7.2.3.2.5 write-back). ---

/// Data buffer address (bytes 0-7).
pub const TX_ADDR: usize = 0;
/// Dword 2: DTALEN (bits 15:0), DTYP (bits 23:20), DCMD (bits 31:24).
pub const TX_CMD_TYPE_LEN: usize = 8;
/// Dword 3: STA (bits 3:0), IDX, POPTS (bits 13:8), PAYLEN (bits 31:14). In the write-back
/// format only STA is meaningful.
pub const TX_OLINFO_STATUS: usize = 12;

/// DTALEN: buffer length mask.
pub const TX_DTALEN_MASK: u32 = 0xFFFF;
/// DTYP = 0011b: advanced data descriptor.
pub const TX_DTYP_DATA: u32 = 0b0011 << 20;
/// DTYP field mask.
pub const TX_DTYP_MASK: u32 = 0xF << 20;
/// DCMD.EOP: last descriptor of the packet.
pub const TX_DCMD_EOP: u32 = 1 << 24;
/// DCMD.IFCS: insert the Ethernet FCS.
pub const TX_DCMD_IFCS: u32 = 1 << 25;
/// DCMD.RS: report status (DD, or head write-back) once this descriptor is processed.
pub const TX_DCMD_RS: u32 = 1 << 27;
/// DCMD.DEXT: advanced (extended) descriptor format.
pub const TX_DCMD_DEXT: u32 = 1 << 29;
/// PAYLEN field position in dword 3 (total payload of the packet, 7.2.3.2.4).
pub const TX_PAYLEN_SHIFT: u32 = 14;
/// STA.DD in dword 3 of the write-back.
pub const TX_STA_DD: u32 = 1 << 0;
/// Dword 3: IDX, the context slot (0 or 1) this packet uses (with CC).
pub const TX_OLINFO_IDX_SHIFT: u32 = 4;
/// Dword 3: CC, check context: apply the context at IDX to this packet.
pub const TX_OLINFO_CC: u32 = 1 << 7;
/// Dword 3: POPTS.IXSM, insert the IPv4 header checksum.
pub const TX_POPTS_IXSM: u32 = 1 << 8;
/// Dword 3: POPTS.TXSM, insert the TCP/UDP checksum (7.2.5.1).
pub const TX_POPTS_TXSM: u32 = 1 << 9;

// --- Advanced transmit context descriptor (7.2.3.2.3). ---

/// Dword 0: IPLEN (bits 8:0), MACLEN (bits 15:9), VLAN (bits 31:16).
pub const TX_CTX_VLAN_MACIP_LENS: usize = 0;
/// Dword 2: TUCMD (bits 19:9), DTYP (bits 23:20) = 0010b, DEXT (bit 29).
pub const TX_CTX_TYPE_TUCMD: usize = 8;
/// Dword 3: IDX (bit 4), L4LEN (bits 15:8), MSS (bits 31:16).
pub const TX_CTX_MSS_L4LEN_IDX: usize = 12;
/// IPLEN mask: the IP header length, so MACLEN + IPLEN is where the L4 header starts.
pub const TX_CTX_IPLEN_MASK: u32 = 0x1FF;
/// MACLEN position: the L2 header length (at most 127).
pub const TX_CTX_MACLEN_SHIFT: u32 = 9;
/// DTYP = 0010b: advanced context descriptor.
pub const TX_DTYP_CTXT: u32 = 0b0010 << 20;
/// TUCMD.IPV4: the packet is IPv4 (else IPv6).
pub const TX_CTX_TUCMD_IPV4: u32 = 1 << 10;
/// TUCMD.L4T field (bits 12:11): 00 UDP, 01 TCP, 10 SCTP.
pub const TX_CTX_TUCMD_L4T_MASK: u32 = 0b11 << 11;
/// TUCMD.L4T = UDP: checksum at MACLEN + IPLEN + 6.
pub const TX_CTX_TUCMD_L4T_UDP: u32 = 0b00 << 11;
/// TUCMD.L4T = TCP: checksum at MACLEN + IPLEN + 16.
pub const TX_CTX_TUCMD_L4T_TCP: u32 = 0b01 << 11;
/// IDX position in dword 3 of a context descriptor.
pub const TX_CTX_IDX_SHIFT: u32 = 4;

const _: () = assert!(RX_WB_LEN_VLAN + 4 == DESC_SIZE && TX_OLINFO_STATUS + 4 == DESC_SIZE);
const _: () = assert!(RX_READ_HDR_ADDR == RX_WB_STATUS_ERROR);
