//! RSS keys under which one client's consecutive source ports spread over the queues.
//!
//! A client that opens many connections (a load generator, a proxy, a NAT) takes its source
//! ports from one address in a run: consecutive ports, or every other port (Linux gives
//! `connect()` ports of one parity, stepping by two). The NIC picks the queue
//! `table[hash % TABLE_LEN]` with a round-robin table (`index mod queues`), and Toeplitz is
//! linear over GF(2): the low bits of the index are `base XOR M·(source port)`, with
//! `M[i][j]` = key bit `P + 31 - i - j` for port bit `j` at input bit `P - j`. A random key
//! leaves `M[0][0]` (key bit `P + 31`) zero one time in two: then index bit 0, and
//! with two queues the queue, does not depend on the port's lowest bit, and about one key in
//! 32 steers a client's 32 consecutive ports all to one core (most likely what CI met: 29
//! connections, all on core 0); the same holds for bit 1 and ports stepping by two.
//!
//! [`spreads_consecutive_ports`] asks, for both strides `s` (1 and 2) and every `k` up to
//! [`SPREAD_BITS`], that port bits `s - 1 .. s - 1 + k` map one-to-one onto the `k` lowest
//! index bits, for IPv4 and IPv6. Then any aligned run of `2^k` ports (or of `2^k` ports of
//! one parity) from one client reaches each of `2^k` queues exactly once, whatever its
//! addresses and destination port, for every power-of-two queue count up to
//! `2^SPREAD_BITS`. The conditions involve only the `2 * SPREAD_BITS` key bits from `P + 31`
//! down, per family, and each new bit (taken from the top) enters its condition only at the
//! corner of a Hankel matrix whose smaller block is already invertible, so exactly one value
//! of each bit meets it: [`make_ports_spread`] sets those bits one by one and leaves the rest
//! of the key, 296 of its 320 bits, as drawn. What the fixed bits tell a peer is that ports
//! a stride apart land on different queues, not which queue any flow lands on (that depends
//! on the other bits).

use corenet_nic::steering::{ipv4_l4_input, ipv6_l4_input, toeplitz};

/// Low bits of a client's source port (from the stride's first bit) that must steer
/// one-to-one: up to 64 queues.
pub const SPREAD_BITS: u32 = 6;

/// The two hash input layouts.
#[derive(Clone, Copy)]
enum Family {
    V4,
    V6,
}

impl Family {
    /// Input bit index (most significant bit of byte 0 first) of the source port's least
    /// significant bit.
    fn port_lsb(self) -> u32 {
        match self {
            Self::V4 => 10 * 8 - 1,
            Self::V6 => 34 * 8 - 1,
        }
    }

    /// The low index bits that source-port bit `j` alone contributes.
    fn column(self, key: &[u8; 40], j: u32) -> u32 {
        let port = 1u16 << j;
        let hash = match self {
            Self::V4 => toeplitz(key, &ipv4_l4_input([0; 4], [0; 4], port, 0)),
            Self::V6 => toeplitz(key, &ipv6_l4_input([0; 16], [0; 16], port, 0)),
        };
        hash & ((1 << SPREAD_BITS) - 1)
    }

    /// Whether port bits `shift .. shift + k` map one-to-one onto index bits `0 .. k`.
    fn block_invertible(self, key: &[u8; 40], shift: u32, k: u32) -> bool {
        let mask = (1u32 << k) - 1;
        let mut basis = [0u32; SPREAD_BITS as usize];
        (shift..shift + k).all(|j| {
            // Reduce by the basis kept by highest bit; an independent column enters it.
            let mut v = self.column(key, j) & mask;
            while v != 0 {
                let top = (31 - v.leading_zeros()) as usize;
                match basis.get(top).copied() {
                    Some(0) => {
                        basis[top] = v;
                        return true;
                    }
                    Some(b) => v ^= b,
                    None => return false,
                }
            }
            false
        })
    }

    fn spreads(self, key: &[u8; 40]) -> bool {
        (0..2).all(|shift| (1..=SPREAD_BITS).all(|k| self.block_invertible(key, shift, k)))
    }

    /// Sets key bits `P + 31 - t` for `t = 0 .. 2 * SPREAD_BITS`, each to the value that makes
    /// the block it completes invertible: step `t` completes stride `t % 2 + 1`'s block of
    /// size `t / 2 + 1`.
    fn make_spread(self, key: &mut [u8; 40]) -> bool {
        for t in 0..2 * SPREAD_BITS {
            let bit = self.port_lsb() + 31 - t;
            let (byte, mask) = ((bit / 8) as usize, 1u8 << (7 - bit % 8));
            let (shift, k) = (t % 2, t / 2 + 1);
            if !self.block_invertible(key, shift, k) {
                match key.get_mut(byte) {
                    Some(b) => *b ^= mask,
                    None => return false,
                }
                if !self.block_invertible(key, shift, k) {
                    return false;
                }
            }
        }
        self.spreads(key)
    }
}

/// Whether one client's source ports, consecutive or a stride of two apart, spread over the
/// queues under `key` (IPv4 and IPv6; see the module documentation).
pub fn spreads_consecutive_ports(key: &[u8; 40]) -> bool {
    Family::V4.spreads(key) && Family::V6.spreads(key)
}

/// Sets the `2 * SPREAD_BITS` key bits per family that decide
/// [`spreads_consecutive_ports`] so that it holds, leaving every other bit as it is. Returns
/// whether it holds (always for a 40-byte key; `false` would mean a bug, and the caller draws
/// again).
pub fn make_ports_spread(key: &mut [u8; 40]) -> bool {
    Family::V4.make_spread(key) && Family::V6.make_spread(key) && spreads_consecutive_ports(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use corenet_nic::steering::{DEFAULT_KEY, RssConfig};

    fn xorshift(x: &mut u64) -> u64 {
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        *x
    }

    fn random_key(x: &mut u64) -> [u8; 40] {
        let mut key = [0u8; 40];
        for chunk in key.chunks_mut(8) {
            chunk.copy_from_slice(&xorshift(x).to_le_bytes());
        }
        key
    }

    /// The failure CI met, reproduced: a random key whose `M` has a zero first column sends a
    /// client's 32 consecutive ports to one of two queues; after `make_ports_spread` every
    /// aligned run of `n` ports reaches all `n` queues, and 29 consecutive ports from any start
    /// reach both of two.
    #[test]
    fn consecutive_ports_from_one_client_reach_every_queue() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut degenerate = 0;
        for round in 0..300 {
            let mut key = random_key(&mut x);
            let two = RssConfig::with_key(key, 2).unwrap();
            let (src, dst) = ([10, 0, 2, 2], [10, 0, 2, 15]);
            let block = (xorshift(&mut x) as u16) & !31;
            let queues: alloc::collections::BTreeSet<u16> = (0..32)
                .map(|p| two.queue_ipv4_l4(src, dst, block + p, 80))
                .collect();
            if queues.len() == 1 {
                degenerate += 1;
                assert!(!spreads_consecutive_ports(&key));
            }
            let before = key;
            assert!(make_ports_spread(&mut key), "round {round}");
            let changed: u32 = key
                .iter()
                .zip(before.iter())
                .map(|(a, b)| (a ^ b).count_ones())
                .sum();
            assert!(changed <= 4 * SPREAD_BITS, "{changed} key bits changed");
            for n in [2usize, 4, 8, 16, 64] {
                let rss = RssConfig::with_key(key, n).unwrap();
                let src6 = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, round as u8];
                let start = u32::from(xorshift(&mut x) as u16 >> 1) & !(n as u32 - 1);
                // Consecutive ports, and ports of one parity (Linux's connect()).
                for stride in [1u32, 2] {
                    let start = (start * stride) | (xorshift(&mut x) as u32 & (stride - 1));
                    let mut v4 = alloc::vec![0; n];
                    let mut v6 = alloc::vec![0; n];
                    for i in 0..n as u32 {
                        let p = (start + i * stride) as u16;
                        v4[rss.queue_ipv4_l4([192, 0, 2, round as u8], dst, p, 443) as usize] += 1;
                        v6[rss.queue_ipv6_l4(src6, [0xfd; 16], p, 443) as usize] += 1;
                    }
                    assert!(
                        v4.iter().chain(&v6).all(|&c| c == 1),
                        "n={n} stride {stride}: {v4:?} {v6:?}"
                    );
                }
            }
            let two = RssConfig::with_key(key, 2).unwrap();
            for start in [40_000u16, 40_001, 54_321, 65_400] {
                for stride in [1, 2] {
                    let hits: alloc::collections::BTreeSet<u16> = (0..29)
                        .map(|i| two.queue_ipv4_l4(src, dst, start + i * stride, 80))
                        .collect();
                    assert_eq!(hits.len(), 2, "start {start} stride {stride}");
                }
            }
        }
        // One key in 32 or so is degenerate for a given block; 300 rounds meet a few.
        assert!(
            degenerate > 0,
            "no degenerate key met: the test would prove nothing"
        );
    }

    #[test]
    fn the_published_key_and_a_zero_key() {
        // A zero key hashes everything to 0: no window value of the port bits alone is enough
        // for the rest, but the windows themselves make it spread.
        assert!(!spreads_consecutive_ports(&[0; 40]));
        let mut zero = [0u8; 40];
        assert!(make_ports_spread(&mut zero));
        // Whatever the published key does, making it spread changes only its windows.
        let mut k = DEFAULT_KEY;
        assert!(make_ports_spread(&mut k));
        assert!(spreads_consecutive_ports(&k));
    }
}
