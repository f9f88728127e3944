//! RSS steering: the Toeplitz hash and the indirection table, shared by drivers and stack.
//!
//! A NIC with RSS hashes each received packet's addresses and ports with the Toeplitz function
//! under a secret key, and picks the receive queue `table[hash % table_len]`. corenet binds
//! queue `i` to core `i`, so the same computation done in software tells which core a flow
//! lands on: the drivers program [`RssConfig`] into the device, the stack predicts with it.
//!
//! Hash inputs follow Microsoft's RSS specification ("Verifying the RSS Hash Calculation"),
//! which the 82599 (datasheet 7.1.2.8) and virtio-net (spec 5.1.6.4.3) both implement:
//! IPv4 (or IPv6) source address, destination address, then for TCP/UDP source port,
//! destination port, all in network byte order.

pub use crate::frame_input::{HashInput, frame_input};

/// The 40-byte key from Microsoft's RSS verification suite, also Linux's and DPDK's default.
pub const DEFAULT_KEY: [u8; 40] = [
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
    0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
    0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
];

/// Entries in the indirection table: the 82599's RETA size, and what QEMU's virtio-net accepts.
pub const TABLE_LEN: usize = 128;

/// The Toeplitz hash of `input` under `key`.
///
/// For every set bit `i` of the input (most significant bit of byte 0 first), XOR in the 32
/// key bits starting at bit `i`. Inputs longer than `key.len() - 4` bytes run out of key bits
/// and are hashed as if the key were zero-extended.
pub fn toeplitz(key: &[u8], input: &[u8]) -> u32 {
    let mut result = 0u32;
    // `window` holds key bits [i, i + 64) of the current input bit i, left-aligned.
    let mut window = key_bits(key, 0);
    for (i, &byte) in input.iter().enumerate() {
        for bit in 0..8 {
            if byte & (0x80 >> bit) != 0 {
                result ^= (window >> 32) as u32;
            }
            window <<= 1;
        }
        // After 8 shifts the low byte of the window is empty: pull in the next key byte.
        window |= u64::from(key.get(i + 8).copied().unwrap_or(0));
    }
    result
}

fn key_bits(key: &[u8], at: usize) -> u64 {
    let mut w = 0u64;
    for i in 0..8 {
        w = (w << 8) | u64::from(key.get(at + i).copied().unwrap_or(0));
    }
    w
}

/// The hash input for an IPv4 packet without ports (12 bytes: addresses only use the first 8).
pub fn ipv4_input(src: [u8; 4], dst: [u8; 4]) -> [u8; 8] {
    let mut b = [0u8; 8];
    b[..4].copy_from_slice(&src);
    b[4..].copy_from_slice(&dst);
    b
}

/// The hash input for an IPv4 TCP or UDP packet, as the receiver sees it.
pub fn ipv4_l4_input(src: [u8; 4], dst: [u8; 4], src_port: u16, dst_port: u16) -> [u8; 12] {
    let mut b = [0u8; 12];
    b[..4].copy_from_slice(&src);
    b[4..8].copy_from_slice(&dst);
    b[8..10].copy_from_slice(&src_port.to_be_bytes());
    b[10..].copy_from_slice(&dst_port.to_be_bytes());
    b
}

/// The hash input for an IPv6 packet without ports (source and destination addresses).
pub fn ipv6_input(src: [u8; 16], dst: [u8; 16]) -> [u8; 32] {
    let mut b = [0u8; 32];
    b[..16].copy_from_slice(&src);
    b[16..].copy_from_slice(&dst);
    b
}

/// The hash input for an IPv6 TCP or UDP packet, as the receiver sees it (36 bytes: the key's
/// 40 bytes cover exactly the 288 input bits plus the 32-bit window).
pub fn ipv6_l4_input(src: [u8; 16], dst: [u8; 16], src_port: u16, dst_port: u16) -> [u8; 36] {
    let mut b = [0u8; 36];
    b[..16].copy_from_slice(&src);
    b[16..32].copy_from_slice(&dst);
    b[32..34].copy_from_slice(&src_port.to_be_bytes());
    b[34..].copy_from_slice(&dst_port.to_be_bytes());
    b
}

/// Errors from [`RssConfig::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RssConfigError {
    /// Zero queues, or more than the table can address.
    BadQueueCount(usize),
}

impl core::fmt::Display for RssConfigError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::BadQueueCount(n) => write!(
                f,
                "{n} queues: zero, or more than the indirection table addresses"
            ),
        }
    }
}

impl core::error::Error for RssConfigError {}

/// The steering configuration of one NIC: key, queue count and indirection table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RssConfig {
    /// Toeplitz key.
    pub key: [u8; 40],
    /// Number of receive queues (= cores served).
    pub queues: u16,
    /// `table[hash % TABLE_LEN]` is the receive queue of a packet with that hash.
    pub table: [u16; TABLE_LEN],
}

impl RssConfig {
    /// The default key and a round-robin table: entry `i` names queue `i % queues`.
    pub fn new(queues: usize) -> Result<Self, RssConfigError> {
        Self::with_key(DEFAULT_KEY, queues)
    }

    /// Like [`new`](Self::new) with a chosen key.
    pub fn with_key(key: [u8; 40], queues: usize) -> Result<Self, RssConfigError> {
        if queues == 0 || queues > TABLE_LEN {
            return Err(RssConfigError::BadQueueCount(queues));
        }
        let mut table = [0u16; TABLE_LEN];
        for (i, e) in table.iter_mut().enumerate() {
            *e = (i % queues) as u16;
        }
        Ok(Self {
            key,
            queues: queues as u16,
            table,
        })
    }

    /// The queue a packet with RSS hash `hash` is steered to.
    #[inline]
    pub fn queue_for_hash(&self, hash: u32) -> u16 {
        self.table[hash as usize % TABLE_LEN]
    }

    /// Hash of an IPv4 TCP/UDP packet as received (source = the remote peer).
    #[inline]
    pub fn hash_ipv4_l4(&self, src: [u8; 4], dst: [u8; 4], src_port: u16, dst_port: u16) -> u32 {
        toeplitz(&self.key, &ipv4_l4_input(src, dst, src_port, dst_port))
    }

    /// The queue an IPv4 TCP/UDP packet with this 4-tuple (as received) is steered to.
    #[inline]
    pub fn queue_ipv4_l4(&self, src: [u8; 4], dst: [u8; 4], src_port: u16, dst_port: u16) -> u16 {
        self.queue_for_hash(self.hash_ipv4_l4(src, dst, src_port, dst_port))
    }

    /// Hash of an IPv6 TCP/UDP packet as received (source = the remote peer).
    #[inline]
    pub fn hash_ipv6_l4(&self, src: [u8; 16], dst: [u8; 16], src_port: u16, dst_port: u16) -> u32 {
        toeplitz(&self.key, &ipv6_l4_input(src, dst, src_port, dst_port))
    }

    /// The queue an IPv6 TCP/UDP packet with this 4-tuple (as received) is steered to.
    #[inline]
    pub fn queue_ipv6_l4(&self, src: [u8; 16], dst: [u8; 16], src_port: u16, dst_port: u16) -> u16 {
        self.queue_for_hash(self.hash_ipv6_l4(src, dst, src_port, dst_port))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Microsoft's RSS verification suite, IPv4: (dst, dst port, src, src port, hash of the
    /// addresses only, hash with TCP ports).
    type Vector = ([u8; 4], u16, [u8; 4], u16, u32, u32);
    const VECTORS: [Vector; 5] = [
        (
            [161, 142, 100, 80],
            1766,
            [66, 9, 149, 187],
            2794,
            0x323e_8fc2,
            0x51cc_c178,
        ),
        (
            [65, 69, 140, 83],
            4739,
            [199, 92, 111, 2],
            14230,
            0xd718_262a,
            0xc626_b0ea,
        ),
        (
            [12, 22, 207, 184],
            38024,
            [24, 19, 198, 95],
            12898,
            0xd2d0_a5de,
            0x5c2b_394a,
        ),
        (
            [209, 142, 163, 6],
            2217,
            [38, 27, 205, 30],
            48228,
            0x8298_9176,
            0xafc7_327f,
        ),
        (
            [202, 188, 127, 2],
            1303,
            [153, 39, 163, 191],
            44251,
            0x5d18_09c5,
            0x10e8_28a2,
        ),
    ];

    #[test]
    fn microsoft_ipv4_vectors() {
        for (dst, dport, src, sport, h_ip, h_tcp) in VECTORS {
            assert_eq!(toeplitz(&DEFAULT_KEY, &ipv4_input(src, dst)), h_ip);
            assert_eq!(
                toeplitz(&DEFAULT_KEY, &ipv4_l4_input(src, dst, sport, dport)),
                h_tcp
            );
        }
    }

    /// Microsoft's RSS verification suite, IPv6: (dst, dst port, src, src port, hash of the
    /// addresses only, hash with TCP ports).
    type Vector6 = (&'static str, u16, &'static str, u16, u32, u32);
    const VECTORS6: [Vector6; 3] = [
        (
            "3ffe:2501:200:3::1",
            1766,
            "3ffe:2501:200:1fff::7",
            2794,
            0x2cc1_8cd5,
            0x4020_7d3d,
        ),
        (
            "ff02::1",
            4739,
            "3ffe:501:8::260:97ff:fe40:efab",
            14230,
            0x0f0c_461c,
            0xdde5_1bbf,
        ),
        (
            "fe80::200:f8ff:fe21:67cf",
            38024,
            "3ffe:1900:4545:3:200:f8ff:fe21:67cf",
            44251,
            0x4b61_e985,
            0x02d1_feef,
        ),
    ];

    /// Parses the textual IPv6 forms used above (with at most one `::`).
    fn v6(s: &str) -> [u8; 16] {
        let groups = |p: &str| -> ([u16; 8], usize) {
            let mut g = [0u16; 8];
            let mut n = 0;
            for x in p.split(':').filter(|x| !x.is_empty()) {
                g[n] = u16::from_str_radix(x, 16).unwrap();
                n += 1;
            }
            (g, n)
        };
        let (head, tail) = s.split_once("::").unwrap_or((s, ""));
        let (h, hn) = groups(head);
        let (t, tn) = groups(tail);
        let mut all = [0u16; 8];
        all[..hn].copy_from_slice(&h[..hn]);
        all[8 - tn..].copy_from_slice(&t[..tn]);
        let mut out = [0u8; 16];
        for (i, g) in all.iter().enumerate() {
            out[2 * i..2 * i + 2].copy_from_slice(&g.to_be_bytes());
        }
        out
    }

    #[test]
    fn microsoft_ipv6_vectors() {
        for (dst, dport, src, sport, h_ip, h_tcp) in VECTORS6 {
            let (src, dst) = (v6(src), v6(dst));
            assert_eq!(toeplitz(&DEFAULT_KEY, &ipv6_input(src, dst)), h_ip);
            assert_eq!(
                toeplitz(&DEFAULT_KEY, &ipv6_l4_input(src, dst, sport, dport)),
                h_tcp
            );
            let rss = RssConfig::new(4).unwrap();
            assert_eq!(rss.hash_ipv6_l4(src, dst, sport, dport), h_tcp);
            assert_eq!(
                rss.queue_ipv6_l4(src, dst, sport, dport),
                rss.queue_for_hash(h_tcp)
            );
        }
    }

    #[test]
    fn linear_over_gf2() {
        let a = ipv4_l4_input([1, 2, 3, 4], [5, 6, 7, 8], 1000, 80);
        let b = ipv4_l4_input([9, 9, 9, 9], [0, 0, 1, 1], 4242, 7);
        let mut x = [0u8; 12];
        for i in 0..12 {
            x[i] = a[i] ^ b[i];
        }
        assert_eq!(
            toeplitz(&DEFAULT_KEY, &x),
            toeplitz(&DEFAULT_KEY, &a) ^ toeplitz(&DEFAULT_KEY, &b)
        );
    }

    #[test]
    fn table_round_robin_and_bounds() {
        let c = RssConfig::new(3).unwrap();
        assert_eq!(c.table[0], 0);
        assert_eq!(c.table[4], 1);
        assert_eq!(c.queue_for_hash(u32::MAX), c.table[127]);
        assert!(RssConfig::new(0).is_err());
        assert!(RssConfig::new(129).is_err());
    }
}
