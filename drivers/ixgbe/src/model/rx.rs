//! The modelled receive path: address filter (7.1.1), RSS queue selection (7.1.2.8) and
//! advanced one-buffer descriptor write-back (7.1.6.2).
//!
//! For a frame the filter accepts: pick the queue; if its ring has no descriptor between RDH
//! and RDT the frame is missed (MPC, 7.1.9); otherwise the data is written to the buffer
//! address of the descriptor at RDH (split over several if larger than SRRCTL.BSIZEPACKET),
//! then each descriptor is overwritten with its write-back: RSS type and packet type, the RSS
//! hash (when RXCSUM.PCSD is set), DD, EOP on the last one, this buffer's length; RDH advances
//! and wraps at RDLEN.

use alloc::vec::Vec;

use super::device::Device;
use super::toeplitz;
use crate::desc::*;
use crate::regs::*;

/// What happened to an injected frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RxOutcome {
    /// Written to this queue's ring.
    Delivered {
        /// The receive queue.
        queue: u16,
    },
    /// The link is down: the frame never arrived.
    NoLink,
    /// RXCTRL.RXEN is clear, or the queue is not enabled.
    Disabled,
    /// The destination address filter rejected it.
    Filtered,
    /// No free descriptor on the queue: counted in MPC.
    Missed {
        /// The receive queue.
        queue: u16,
    },
    /// The ring is misconfigured or points outside DMA memory (counted as a fault).
    Fault,
}

/// A hostile change to the next write-back, for tests of the driver's validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Corruption {
    /// Report a length of 0.
    LenZero,
    /// Report this length (e.g. beyond the buffer).
    Len(u16),
    /// OR these bits into the extended error field (dword 2).
    Errors(u32),
    /// Clear EOP (a frame that claims to continue).
    NoEop,
}

/// Packet type bits of write-back dword 0 (bits 16:4), 7.1.6.2.
const PKTTYPE_IPV4: u32 = 1 << 4;
const PKTTYPE_IPV6: u32 = 1 << 6;
const PKTTYPE_TCP: u32 = 1 << 8;
const PKTTYPE_UDP: u32 = 1 << 9;

/// Queue, RSS type, hash and packet type of a frame under the current MRQC/RSSRK/RETA.
pub(crate) struct Steered {
    pub queue: u16,
    pub rss_type: u32,
    pub hash: u32,
    pub pkt_type: u32,
}

impl Device {
    fn rss_key(&self) -> [u8; 40] {
        let mut key = [0u8; 40];
        for i in 0..10 {
            key[4 * i..4 * i + 4].copy_from_slice(&self.get(rssrk(i as u16)).to_le_bytes());
        }
        key
    }

    /// Parses Ethernet/IPv4/TCP|UDP and applies 7.1.2.8: the hash covers the fields MRQC
    /// enables; the 7 low bits of the hash index RETA; an unhashed packet goes to queue 0.
    pub(crate) fn steer(&self, f: &[u8]) -> Steered {
        let none = Steered {
            queue: 0,
            rss_type: RSSTYPE_NONE,
            hash: 0,
            pkt_type: 0,
        };
        if f.len() >= 54 && f[12..14] == [0x86, 0xDD] && f[14] >> 4 == 6 {
            return self.steer_ipv6(f);
        }
        if f.len() < 34 || f[12..14] != [0x08, 0x00] || f[14] >> 4 != 4 {
            return none;
        }
        let ihl = usize::from(f[14] & 0xF) * 4;
        let proto = f[23];
        let frag = u16::from_be_bytes([f[20], f[21]]) & 0x3FFF != 0;
        let (src, dst) = ([f[26], f[27], f[28], f[29]], [f[30], f[31], f[32], f[33]]);
        let l4 = 14 + ihl;
        let ports = (!frag && ihl >= 20 && f.len() >= l4 + 4).then(|| {
            (
                u16::from_be_bytes([f[l4], f[l4 + 1]]),
                u16::from_be_bytes([f[l4 + 2], f[l4 + 3]]),
            )
        });
        let mut pkt_type = PKTTYPE_IPV4;
        let mrqc = self.get(MRQC);
        if mrqc & MRQC_MRQE_MASK != MRQC_MRQE_RSS {
            return Steered { pkt_type, ..none };
        }
        let key = self.rss_key();
        let l4_enabled = match proto {
            6 => {
                pkt_type |= PKTTYPE_TCP;
                mrqc & MRQC_RSS_TCP_IPV4 != 0
            }
            17 => {
                pkt_type |= PKTTYPE_UDP;
                mrqc & MRQC_RSS_UDP_IPV4 != 0
            }
            _ => false,
        };
        let (hash, rss_type) = match ports {
            Some((sp, dp)) if l4_enabled => {
                let input = toeplitz::input(&src, &dst, Some((sp, dp)));
                let t = if proto == 6 {
                    RSSTYPE_IPV4_TCP
                } else {
                    RSSTYPE_IPV4_UDP
                };
                (toeplitz::hash(&key, &input), t)
            }
            _ if mrqc & MRQC_RSS_IPV4 != 0 => {
                let input = toeplitz::input(&src, &dst, None);
                (toeplitz::hash(&key, &input), RSSTYPE_IPV4)
            }
            _ => return Steered { pkt_type, ..none },
        };
        self.via_reta(hash, rss_type, pkt_type)
    }

    /// IPv6 with TCP/UDP directly after the fixed header (the model parses no extension
    /// headers; those packets hash on the addresses when MRQC enables IPv6).
    fn steer_ipv6(&self, f: &[u8]) -> Steered {
        let mut pkt_type = PKTTYPE_IPV6;
        let mrqc = self.get(MRQC);
        let none = Steered {
            queue: 0,
            rss_type: RSSTYPE_NONE,
            hash: 0,
            pkt_type,
        };
        if mrqc & MRQC_MRQE_MASK != MRQC_MRQE_RSS {
            return none;
        }
        let mut src = [0u8; 16];
        let mut dst = [0u8; 16];
        src.copy_from_slice(&f[22..38]);
        dst.copy_from_slice(&f[38..54]);
        let next = f[20];
        let l4_enabled = match next {
            6 => {
                pkt_type |= PKTTYPE_TCP;
                mrqc & MRQC_RSS_TCP_IPV6 != 0
            }
            17 => {
                pkt_type |= PKTTYPE_UDP;
                mrqc & MRQC_RSS_UDP_IPV6 != 0
            }
            _ => false,
        };
        let key = self.rss_key();
        let (hash, rss_type) = match f.get(54..58) {
            Some(p) if l4_enabled => {
                let (sp, dp) = (
                    u16::from_be_bytes([p[0], p[1]]),
                    u16::from_be_bytes([p[2], p[3]]),
                );
                let input = toeplitz::input(&src, &dst, Some((sp, dp)));
                let t = if next == 6 {
                    RSSTYPE_IPV6_TCP
                } else {
                    RSSTYPE_IPV6_UDP
                };
                (toeplitz::hash(&key, &input), t)
            }
            _ if mrqc & MRQC_RSS_IPV6 != 0 => {
                let input = toeplitz::input(&src, &dst, None);
                (toeplitz::hash(&key, &input), RSSTYPE_IPV6)
            }
            _ => return Steered { pkt_type, ..none },
        };
        self.via_reta(hash, rss_type, pkt_type)
    }

    /// The queue the redirection table names for `hash` (its low 7 bits pick the entry).
    fn via_reta(&self, hash: u32, rss_type: u32, pkt_type: u32) -> Steered {
        let idx = (hash & 0x7F) as u16;
        let queue = ((self.get(reta(idx / 4)) >> (8 * (idx % 4))) & 0xF) as u16;
        Steered {
            queue,
            rss_type,
            hash,
            pkt_type,
        }
    }

    fn accepts(&self, f: &[u8]) -> bool {
        let fctrl = self.get(FCTRL);
        let Some(dst) = f.get(0..6) else { return false };
        if fctrl & FCTRL_UPE != 0 {
            return true;
        }
        if dst == [0xFF; 6] {
            return fctrl & FCTRL_BAM != 0;
        }
        if dst[0] & 1 != 0 {
            return fctrl & FCTRL_MPE != 0;
        }
        let lo = self.get(RAL0).to_le_bytes();
        let hi = self.get(RAH0);
        let hb = hi.to_le_bytes();
        hi & RAH_AV != 0 && dst == [lo[0], lo[1], lo[2], lo[3], hb[0], hb[1]]
    }

    /// A frame (without FCS) arrives from the wire.
    pub(crate) fn receive(&mut self, frame: &[u8]) -> RxOutcome {
        if !self.link_up {
            return RxOutcome::NoLink;
        }
        if self.get(RXCTRL) & RXCTRL_RXEN == 0 {
            return RxOutcome::Disabled;
        }
        if frame.len() < 14 || !self.accepts(frame) {
            return RxOutcome::Filtered;
        }
        let st = self.steer(frame);
        let q = st.queue;
        if self.get(rxdctl(q)) & DCTL_ENABLE == 0 {
            return RxOutcome::Disabled;
        }
        let srrctl = self.get(srrctl(q));
        let bsize = (srrctl & SRRCTL_BSIZEPACKET_MASK) as usize * 1024;
        let rdlen = self.get(rdlen(q)) as usize;
        let size = rdlen / DESC_SIZE;
        let (head, tail) = (self.get(rdh(q)) as usize, self.get(rdt(q)) as usize);
        // Only the advanced one-buffer format is modelled; RDBAL must be 128-byte aligned
        // (8.2.3.8.1), RDLEN a non-zero multiple of 128 (8.2.3.8.3); head and tail must lie in
        // the ring.
        if srrctl & SRRCTL_DESCTYPE_MASK != SRRCTL_DESCTYPE_ADV_ONEBUF
            || self.get(rdbal(q)) & 0x7F != 0
            || bsize == 0
            || rdlen == 0
            || !rdlen.is_multiple_of(128)
            || head >= size
            || tail >= size
        {
            self.config_faults += 1;
            return RxOutcome::Fault;
        }
        // CRC stripping is configured in two places that must agree (8.2.3.8.8).
        let strip = self.get(HLREG0) & HLREG0_RXCRCSTRP != 0;
        if strip != (self.get(RDRXCTL) & RDRXCTL_CRCSTRIP != 0) {
            self.config_faults += 1;
            return RxOutcome::Fault;
        }
        let mut data: Vec<u8> = Vec::with_capacity(frame.len() + 4);
        data.extend_from_slice(frame);
        if !strip {
            data.extend_from_slice(&[0; 4]);
        }
        let needed = data.len().div_ceil(bsize);
        let free = (tail + size - head) % size;
        if free < needed {
            self.count(mpc(0), 1);
            return RxOutcome::Missed { queue: q };
        }
        let base = u64::from(self.get(rdbal(q))) | u64::from(self.get(rdbah(q))) << 32;
        let pcsd = self.get(RXCSUM) & RXCSUM_PCSD != 0;
        let corrupt = self.corrupt_next.take();
        let mut h = head;
        for (i, chunk) in data.chunks(bsize).enumerate() {
            let desc = base + (h * DESC_SIZE) as u64;
            let buf = self.mem.read_u64(desc + RX_READ_PKT_ADDR as u64);
            if !self.mem.write(buf, chunk) {
                return RxOutcome::Fault;
            }
            let last = i + 1 == needed;
            let mut status = RX_STAT_DD | if last { RX_STAT_EOP } else { 0 };
            let mut len = chunk.len() as u32;
            match corrupt {
                Some(Corruption::LenZero) => len = 0,
                Some(Corruption::Len(l)) => len = u32::from(l),
                Some(Corruption::Errors(e)) => status |= e,
                Some(Corruption::NoEop) => status &= !RX_STAT_EOP,
                None => {}
            }
            let hash = if pcsd { st.hash } else { 0 };
            // Write-back dwords in order; DD is in dword 2, so the whole descriptor is
            // written before software can see it (the device writes it as one line).
            let wb = [st.rss_type | st.pkt_type, hash, status, len];
            for (j, w) in wb.iter().enumerate() {
                self.mem.write_u32(desc + 4 * j as u64, *w);
            }
            h = (h + 1) % size;
        }
        self.set(rdh(q), h as u32);
        self.count(GPRC, 1);
        self.count_octets(GORCL, frame.len() as u64 + 4);
        if q < MAX_QUEUES {
            self.count(qprc(q), 1);
        }
        self.raise_rx_cause(q);
        RxOutcome::Delivered { queue: q }
    }
}
