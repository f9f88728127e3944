//! The model's own RSS hash (82599 datasheet 7.1.2.8.1), independent of `corenet_nic`'s
//! Toeplitz: the device must not hash with the function whose predictions it is checking.
//!
//! Written from the definition rather than for speed: for every set bit `i` of the input
//! (most significant bit of the first byte first), XOR in the 32 key bits starting at bit `i`.
//! The hash input is built here from the frame's own bytes: source address, destination
//! address, then (for TCP/UDP) source port and destination port, all in network order.
//! Checked against Microsoft's published RSS verification vectors ("Verifying the RSS Hash
//! Calculation", the same key the 82599 datasheet's example uses).

use alloc::vec::Vec;

/// The 32 key bits starting at bit `bit` (bits past the key's end read as 0).
fn key_window(key: &[u8], bit: usize) -> u32 {
    let mut w = 0u32;
    for k in 0..32 {
        let b = bit + k;
        let set = key
            .get(b / 8)
            .is_some_and(|byte| byte & (0x80 >> (b % 8)) != 0);
        w = (w << 1) | u32::from(set);
    }
    w
}

/// The Toeplitz hash of `input` under `key`.
pub(crate) fn hash(key: &[u8], input: &[u8]) -> u32 {
    let mut h = 0;
    for (i, byte) in input.iter().enumerate() {
        for j in 0..8 {
            if byte & (0x80 >> j) != 0 {
                h ^= key_window(key, 8 * i + j);
            }
        }
    }
    h
}

/// The hash input: `src`, `dst` (4 or 16 bytes each), then the ports if any.
pub(crate) fn input(src: &[u8], dst: &[u8], ports: Option<(u16, u16)>) -> Vec<u8> {
    let mut v = Vec::with_capacity(src.len() + dst.len() + 4);
    v.extend_from_slice(src);
    v.extend_from_slice(dst);
    if let Some((sp, dp)) = ports {
        v.extend_from_slice(&sp.to_be_bytes());
        v.extend_from_slice(&dp.to_be_bytes());
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Microsoft's verification key.
    const KEY: [u8; 40] = [
        0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f,
        0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
        0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
    ];

    #[test]
    fn ipv4_matches_microsofts_vectors() {
        // (source, source port, destination, destination port, IPv4 only, with TCP)
        type Vector = ([u8; 4], u16, [u8; 4], u16, u32, u32);
        let vectors: [Vector; 5] = [
            (
                [66, 9, 149, 187],
                2794,
                [161, 142, 100, 80],
                1766,
                0x323e8fc2,
                0x51ccc178,
            ),
            (
                [199, 92, 111, 2],
                14230,
                [65, 69, 140, 83],
                4739,
                0xd718262a,
                0xc626b0ea,
            ),
            (
                [24, 19, 198, 95],
                12898,
                [12, 22, 207, 184],
                38024,
                0xd2d0a5de,
                0x5c2b394a,
            ),
            (
                [38, 27, 205, 30],
                48228,
                [209, 142, 163, 6],
                2217,
                0x82989176,
                0xafc7327f,
            ),
            (
                [153, 39, 163, 191],
                44251,
                [202, 188, 127, 2],
                1303,
                0x5d1809c5,
                0x10e828a2,
            ),
        ];
        for (src, sp, dst, dp, ip, tcp) in vectors {
            assert_eq!(
                hash(&KEY, &input(&src, &dst, None)),
                ip,
                "{src:?} -> {dst:?}"
            );
            assert_eq!(hash(&KEY, &input(&src, &dst, Some((sp, dp)))), tcp);
        }
    }

    #[test]
    fn ipv6_matches_microsofts_vectors() {
        let a = |s: &str| -> [u8; 16] { s.parse::<std::net::Ipv6Addr>().unwrap().octets() };
        let vectors = [
            (
                "3ffe:2501:200:1fff::7",
                2794,
                "3ffe:2501:200:3::1",
                1766,
                0x2cc18cd5,
                0x40207d3d,
            ),
            (
                "3ffe:501:8::260:97ff:fe40:efab",
                14230,
                "ff02::1",
                4739,
                0x0f0c461c,
                0xdde51bbf,
            ),
            (
                "3ffe:1900:4545:3:200:f8ff:fe21:67cf",
                44251,
                "fe80::200:f8ff:fe21:67cf",
                38024,
                0x4b61e985,
                0x02d1feef,
            ),
        ];
        for (src, sp, dst, dp, ip, tcp) in vectors {
            let (s, d) = (a(src), a(dst));
            assert_eq!(hash(&KEY, &input(&s, &d, None)), ip, "{src} -> {dst}");
            assert_eq!(hash(&KEY, &input(&s, &d, Some((sp, dp)))), tcp);
        }
    }
}
