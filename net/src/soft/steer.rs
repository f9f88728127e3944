//! Receive-side steering in software: the queue an RSS NIC would pick for a frame.
//!
//! The same decision as the 82599 (datasheet 7.1.2.8) and virtio-net (spec 5.1.6.4.3): IPv4
//! TCP/UDP by the 4-tuple, other IPv4 (and fragments, whose later pieces carry no ports) by
//! the two addresses; IPv6 TCP/UDP directly after the fixed header by the 4-tuple (36-byte
//! input), other IPv6 (ICMPv6 and NDP, extension headers) by the two addresses; everything
//! else (ARP) to queue 0. One 802.1Q tag is looked through, as the 82599 does. The frame is
//! parsed by [`corenet_nic::steering::frame_input`], shared with the other software steerings.
//!
//! Toeplitz is linear over GF(2), so the hash of an input is the XOR of the hashes of each
//! byte in its position: a 36 x 256 table of `u32` (36 KiB) built once from the key turns
//! the bit loop of [`corenet_nic::toeplitz`] into one lookup per input byte (12 for IPv4).

use alloc::boxed::Box;

use corenet_nic::steering::{RssConfig, TABLE_LEN, frame_input};

/// Bytes of the longest hash input (IPv6 addresses and ports).
const INPUT_LEN: usize = 36;

/// A steering decision for one frame, precomputed from an [`RssConfig`].
pub struct SteerTable {
    /// `bytes[i][b]`: the Toeplitz hash of an input that is zero but for byte `i` = `b`.
    bytes: Box<[[u32; 256]; INPUT_LEN]>,
    table: [u16; TABLE_LEN],
}

impl SteerTable {
    /// Precomputes the byte tables of `rss.key` and copies its indirection table.
    pub fn new(rss: &RssConfig) -> Self {
        let mut bytes = Box::new([[0u32; 256]; INPUT_LEN]);
        for (i, row) in bytes.iter_mut().enumerate() {
            let mut bit = [0u32; 8];
            for (k, h) in bit.iter_mut().enumerate() {
                let mut input = [0u8; INPUT_LEN];
                input[i] = 0x80 >> k;
                *h = corenet_nic::toeplitz(&rss.key, &input);
            }
            for (b, h) in row.iter_mut().enumerate() {
                *h = (0..8)
                    .filter(|k| b & (0x80 >> k) != 0)
                    .fold(0, |acc, k| acc ^ bit[k]);
            }
        }
        Self {
            bytes,
            table: rss.table,
        }
    }

    /// The Toeplitz hash of `input` (at most 36 bytes; the rest is ignored).
    #[inline]
    pub fn hash(&self, input: &[u8]) -> u32 {
        input
            .iter()
            .zip(self.bytes.iter())
            .fold(0, |h, (&b, row)| h ^ row[usize::from(b)])
    }

    /// The queue an RSS NIC steers `frame` to, and the hash it used (`None` for frames RSS
    /// does not hash, which go to queue 0). Never reads past the frame.
    pub fn classify(&self, frame: &[u8]) -> (u16, Option<u32>) {
        match self.hash_frame(frame) {
            Some(h) => (self.table[h as usize % TABLE_LEN], Some(h)),
            None => (0, None),
        }
    }

    /// The hash of `frame`'s RSS input (`corenet_nic::steering::frame_input`).
    #[inline]
    fn hash_frame(&self, frame: &[u8]) -> Option<u32> {
        frame_input(frame).map(|input| self.hash(input.bytes()))
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use crate::sim::steer;
    use corenet_nic::steering::{ipv4_input, ipv6_input};
    use std::vec::Vec;

    use crate::testkit::Rng;

    #[test]
    fn byte_tables_match_the_bitwise_hash() {
        let rss = RssConfig::new(5).unwrap();
        let st = SteerTable::new(&rss);
        let mut s = Rng(0x1234_5678_9abc_def1);
        for _ in 0..2000 {
            let mut input = [0u8; 36];
            for b in &mut input {
                *b = s.next() as u8;
            }
            assert_eq!(st.hash(&input), corenet_nic::toeplitz(&rss.key, &input));
            assert_eq!(
                st.hash(&input[..8]),
                corenet_nic::toeplitz(&rss.key, &input[..8])
            );
        }
    }

    /// An Ethernet + IPv4 header with `proto`, flags/fragment word `frag`, then `l4`.
    fn frame(vlan: bool, proto: u8, frag: u16, l4: &[u8], s: &mut Rng) -> Vec<u8> {
        let mut f = std::vec![0u8; 12];
        if vlan {
            f.extend_from_slice(&[0x81, 0x00, 0x00, 0x05]);
        }
        f.extend_from_slice(&[0x08, 0x00, 0x45, 0, 0, 40, 0, 0]);
        f.extend_from_slice(&frag.to_be_bytes());
        f.extend_from_slice(&[64, proto, 0, 0]);
        for _ in 0..8 {
            f.push(s.next() as u8);
        }
        f.extend_from_slice(l4);
        f
    }

    #[test]
    fn decisions_match_the_simulated_rss_nic() {
        let rss = RssConfig::new(4).unwrap();
        let st = SteerTable::new(&rss);
        let mut s = Rng(0xdead_beef);
        let mut per_queue = [0usize; 4];
        for i in 0..4000u32 {
            let proto = [6, 17, 1, 6][i as usize % 4];
            let frag = if i % 7 == 0 { 0x2000 } else { 0x4000 };
            let ports = (s.next() as u32).to_be_bytes();
            let f = frame(false, proto, frag, &ports, &mut s);
            let (q, h) = st.classify(&f);
            assert_eq!(q, steer(&rss, &f), "frame {i}");
            assert!(h.is_some());
            per_queue[usize::from(q)] += 1;
            // The same packet behind a VLAN tag steers the same way.
            let mut t = frame(true, proto, frag, &ports, &mut Rng(0));
            t[18 + 12..18 + 20].copy_from_slice(&f[14 + 12..14 + 20]);
            assert_eq!(st.classify(&t), (q, h), "tagged frame {i}");
        }
        assert!(per_queue.iter().all(|&n| n > 800), "{per_queue:?}");
    }

    /// An Ethernet + IPv6 frame with next header `nh`, random addresses, then `l4`.
    fn frame6(vlan: bool, nh: u8, l4: &[u8], s: &mut Rng) -> Vec<u8> {
        let mut f = std::vec![0u8; 12];
        if vlan {
            f.extend_from_slice(&[0x81, 0x00, 0x00, 0x05]);
        }
        f.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0, 0, l4.len() as u8, nh, 64]);
        for _ in 0..32 {
            f.push(s.next() as u8);
        }
        f.extend_from_slice(l4);
        f
    }

    #[test]
    fn ipv6_steers_by_the_ipv6_toeplitz_like_the_simulated_nic() {
        let rss = RssConfig::new(4).unwrap();
        let st = SteerTable::new(&rss);
        let mut s = Rng(0x5eed);
        let mut per_queue = [0usize; 4];
        for i in 0..4000u32 {
            let nh = [6, 17, 58, 0][i as usize % 4];
            let ports = (s.next() as u32).to_be_bytes();
            let f = frame6(false, nh, &ports, &mut s);
            let (q, h) = st.classify(&f);
            assert_eq!(q, steer(&rss, &f), "frame {i}");
            let src: [u8; 16] = f[22..38].try_into().unwrap();
            let dst: [u8; 16] = f[38..54].try_into().unwrap();
            let want = if matches!(nh, 6 | 17) {
                let sp = u16::from_be_bytes([ports[0], ports[1]]);
                let dp = u16::from_be_bytes([ports[2], ports[3]]);
                rss.hash_ipv6_l4(src, dst, sp, dp)
            } else {
                corenet_nic::toeplitz(&rss.key, &ipv6_input(src, dst))
            };
            assert_eq!(h, Some(want), "frame {i}");
            per_queue[usize::from(q)] += 1;
            let mut t = frame6(true, nh, &ports, &mut Rng(0));
            t[18 + 8..18 + 40].copy_from_slice(&f[14 + 8..14 + 40]);
            assert_eq!(st.classify(&t), (q, h), "tagged frame {i}");
        }
        assert!(per_queue.iter().all(|&n| n > 800), "{per_queue:?}");
        // Truncated IPv6: addresses-only once the ports are cut, queue 0 before the addresses.
        let f = frame6(false, 6, &[1, 2, 3, 4], &mut s);
        for cut in 0..f.len() {
            let (q, h) = st.classify(&f[..cut]);
            assert!(q < 4);
            assert_eq!(h.is_none(), cut < 54, "cut {cut}");
        }
    }

    #[test]
    fn ports_are_read_after_ip_options() {
        let rss = RssConfig::new(4).unwrap();
        let st = SteerTable::new(&rss);
        let mut f = frame(false, 17, 0, &[], &mut Rng(3));
        f[14] = 0x46; // 24-byte header: 4 bytes of options, then the UDP ports
        f.extend_from_slice(&[1, 1, 1, 1, 0x12, 0x34, 0x00, 0x35]);
        let src = [f[26], f[27], f[28], f[29]];
        let dst = [f[30], f[31], f[32], f[33]];
        let h = rss.hash_ipv4_l4(src, dst, 0x1234, 53);
        assert_eq!(st.classify(&f), (rss.queue_for_hash(h), Some(h)));
        assert_eq!(st.classify(&f).0, steer(&rss, &f));
    }

    #[test]
    fn unhashable_and_truncated_frames_go_to_queue_0() {
        let rss = RssConfig::new(4).unwrap();
        let st = SteerTable::new(&rss);
        let mut s = Rng(7);
        let tcp = frame(false, 6, 0x4000, &[1, 2, 3, 4], &mut s);
        for cut in 0..tcp.len() {
            let (q, _) = st.classify(&tcp[..cut]);
            assert!(q < 4);
            if cut < 34 {
                assert_eq!(st.classify(&tcp[..cut]), (0, None), "cut {cut}");
            }
        }
        let mut arp = tcp.clone();
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert_eq!(st.classify(&arp), (0, None));
        // An IPv4 ethertype with version 6 in the header is not hashed.
        let mut v6 = tcp.clone();
        v6[14] = 0x65;
        assert_eq!(st.classify(&v6), (0, None));
        // A header length under 20 bytes is hashed by addresses only, never read as ports.
        let mut short_ihl = tcp.clone();
        short_ihl[14] = 0x41;
        let addrs = ipv4_input(
            short_ihl[26..30].try_into().unwrap(),
            short_ihl[30..34].try_into().unwrap(),
        );
        assert_eq!(st.classify(&short_ihl).1, Some(st.hash(&addrs)));
    }
}
