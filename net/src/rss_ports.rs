//! RSS-aware local ports for active opens, solved over GF(2) instead of found by retries.
//!
//! A reply to a connection we open arrives as `src = remote, dst = local, sport = remote_port,
//! dport = local_port`; the NIC sends it to queue `table[toeplitz(key, tuple) % TABLE_LEN]`.
//! Toeplitz is linear over GF(2), so
//!
//! ```text
//! hash(tuple) = hash(tuple with dport = 0)  XOR  sum over set bits b of dport: c_b
//! ```
//!
//! where `c_b` is the hash of an input holding only bit `b` of the destination port. The table
//! index only uses the low `log2(TABLE_LEN)` bits of the hash, so the index is
//! `base XOR M·port` with `M` a small (7 x 16) bit matrix that depends only on the key. One
//! Gaussian elimination per key ([`PortSolver::new`]) gives the pivot columns of `M`, a table
//! solving `M·p = t` for every reachable `t`, and a basis of `M`'s null space. Every port that
//! steers to a queue is then `solve[t XOR base] XOR (null-space combination)` for a table
//! index `t` naming that queue: an exact, exhaustive enumeration with no hashing per candidate.
//!
//! [`PortSolver::candidates`] walks that set from a caller-chosen offset; the per-core
//! allocator in [`crate::ports`] filters it by its ephemeral range and busy/TIME-WAIT state.
//!
//! IPv6 is the same algebra on the 36-byte input (addresses 16 + 16, then the ports): the
//! destination port sits at input bytes 34..36 instead of 10..12, so it meets other key bits
//! and has its own matrix `M6`, eliminated alongside (`*_v6` methods).

use corenet_nic::steering::{RssConfig, TABLE_LEN, ipv4_l4_input, ipv6_l4_input, toeplitz};

/// Bits of the hash the indirection table looks at.
const INDEX_BITS: u32 = TABLE_LEN.trailing_zeros();
const INDEX_MASK: u32 = (TABLE_LEN - 1) as u32;
const _: () = assert!(TABLE_LEN.is_power_of_two() && INDEX_BITS <= 16);

/// Precomputed linear algebra of one RSS configuration, for predicting and choosing ports.
#[derive(Debug, Clone)]
pub struct PortSolver {
    rss: RssConfig,
    v4: Elimination,
    v6: Elimination,
}

/// The eliminated port-to-index matrix of one hash input layout.
#[derive(Debug, Clone)]
struct Elimination {
    /// `solve[t]` is a port `p` built only from pivot bits with `M·p = t`, if `t` is reachable.
    solve: [Option<u16>; TABLE_LEN],
    /// Null-space basis: toggling any of these in a port leaves the table index unchanged.
    null_basis: heapless::Vec<u16, 16>,
}

impl PortSolver {
    /// Eliminates the key's port-bit contributions (a few hundred bit operations per family).
    pub fn new(rss: &RssConfig) -> Self {
        Self {
            rss: rss.clone(),
            v4: Elimination::new(|b| toeplitz(&rss.key, &ipv4_l4_input([0; 4], [0; 4], 0, 1 << b))),
            v6: Elimination::new(|b| {
                toeplitz(&rss.key, &ipv6_l4_input([0; 16], [0; 16], 0, 1 << b))
            }),
        }
    }
}

impl Elimination {
    /// `hash_of_bit(b)`: the hash of the input holding only bit `b` of the destination port.
    fn new(hash_of_bit: impl Fn(u32) -> u32) -> Self {
        // Contribution of each destination-port bit to the table index.
        let mut contrib = [0u32; 16];
        for (b, c) in contrib.iter_mut().enumerate() {
            *c = hash_of_bit(b as u32) & INDEX_MASK;
        }
        // Greedy pivots: a column joins when it is independent of those before it.
        // `span[v] = Some(port)` records how to reach index value `v` from the pivots so far.
        let mut solve: [Option<u16>; TABLE_LEN] = [None; TABLE_LEN];
        solve[0] = Some(0);
        let mut pivots: heapless::Vec<usize, 16> = heapless::Vec::new();
        for (b, &c) in contrib.iter().enumerate() {
            if solve[c as usize].is_none() {
                // Independent: the reachable set doubles to `old XOR c`.
                let reached: heapless::Vec<(usize, u16), TABLE_LEN> = solve
                    .iter()
                    .enumerate()
                    .filter_map(|(v, p)| p.map(|p| (v, p)))
                    .collect();
                for (v, p) in reached {
                    solve[v ^ c as usize] = Some(p | 1 << b);
                }
                let _ = pivots.push(b);
            }
        }
        let mut null_basis = heapless::Vec::new();
        for (b, &c) in contrib.iter().enumerate() {
            if !pivots.contains(&b) {
                // `c` is reachable from the pivots (they span every column); cancel it there.
                let fix = solve[c as usize].unwrap_or(0);
                let _ = null_basis.push((1u16 << b) | fix);
            }
        }
        Self { solve, null_basis }
    }
}

impl PortSolver {
    /// The configuration this solver was built for.
    pub fn rss(&self) -> &RssConfig {
        &self.rss
    }

    /// Rank of the port-to-index map: `2^rank` distinct table indexes are reachable by
    /// changing the port alone (7 for the default key).
    pub fn rank(&self) -> u32 {
        16 - self.v4.null_basis.len() as u32
    }

    /// [`rank`](Self::rank) for IPv6 (also 7 for the default key).
    pub fn rank_v6(&self) -> u32 {
        16 - self.v6.null_basis.len() as u32
    }

    /// Whether the port alone reaches every table index, for IPv4 and IPv6: then every queue
    /// named in the table has ports for every remote endpoint. A key drawn at random misses
    /// this about once in a thousand draws (the port's bits meet a 22-bit stretch of the
    /// key, whose sliding windows may be linearly dependent); draw again then.
    pub fn full_rank(&self) -> bool {
        self.rank() == INDEX_BITS && self.rank_v6() == INDEX_BITS
    }

    /// [`reply_queue`](Self::reply_queue) for IPv6.
    pub fn reply_queue_v6(&self, local: [u8; 16], remote: ([u8; 16], u16), local_port: u16) -> u16 {
        self.rss
            .queue_ipv6_l4(remote.0, local, remote.1, local_port)
    }

    /// [`candidates`](Self::candidates) for IPv6.
    pub fn candidates_v6(
        &self,
        local: [u8; 16],
        remote: ([u8; 16], u16),
        queue: u16,
        start: u32,
    ) -> Candidates<'_> {
        let base =
            toeplitz(&self.rss.key, &ipv6_l4_input(remote.0, local, remote.1, 0)) & INDEX_MASK;
        self.walk(&self.v6, base, queue, start)
    }

    /// The queue that a reply to our connection `local:local_port -> remote:remote_port`
    /// is steered to.
    pub fn reply_queue(&self, local: [u8; 4], remote: ([u8; 4], u16), local_port: u16) -> u16 {
        self.rss
            .queue_ipv4_l4(remote.0, local, remote.1, local_port)
    }

    /// All local ports whose reply lands on `queue`, as an iterator starting at the
    /// `start`-th candidate (any value; it is reduced modulo the number of candidates) and
    /// visiting each candidate once. Empty when `queue` is not in the table or unreachable.
    pub fn candidates(
        &self,
        local: [u8; 4],
        remote: ([u8; 4], u16),
        queue: u16,
        start: u32,
    ) -> Candidates<'_> {
        let base =
            toeplitz(&self.rss.key, &ipv4_l4_input(remote.0, local, remote.1, 0)) & INDEX_MASK;
        self.walk(&self.v4, base, queue, start)
    }

    fn walk<'a>(&self, e: &'a Elimination, base: u32, queue: u16, start: u32) -> Candidates<'a> {
        // Pivot-only solutions for every reachable table index naming `queue`.
        let mut heads: heapless::Vec<u16, TABLE_LEN> = heapless::Vec::new();
        for (t, &q) in self.rss.table.iter().enumerate() {
            if q == queue
                && let Some(p) = e.solve[t ^ base as usize]
            {
                let _ = heads.push(p);
            }
        }
        let per_head = 1u32 << e.null_basis.len();
        let total = heads.len() as u32 * per_head;
        Candidates {
            null_basis: &e.null_basis,
            heads,
            total,
            next: if total == 0 { 0 } else { start % total },
            left: total,
        }
    }
}

/// Iterator over the ports whose replies steer to one queue; see [`PortSolver::candidates`].
#[derive(Debug, Clone)]
pub struct Candidates<'a> {
    null_basis: &'a [u16],
    heads: heapless::Vec<u16, TABLE_LEN>,
    total: u32,
    next: u32,
    left: u32,
}

impl Candidates<'_> {
    /// How many candidates there are in all (a multiple of `2^(16 - rank)`).
    pub fn total(&self) -> u32 {
        self.total
    }
}

impl Iterator for Candidates<'_> {
    type Item = u16;

    fn next(&mut self) -> Option<u16> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let i = self.next;
        self.next = if i + 1 == self.total { 0 } else { i + 1 };
        // Interleave heads so consecutive candidates spread over the table's entries.
        let nh = self.heads.len() as u32;
        let mut port = self.heads[(i % nh) as usize];
        let mut free = i / nh;
        for &n in self.null_basis {
            if free & 1 != 0 {
                port ^= n;
            }
            free >>= 1;
        }
        Some(port)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left as usize, Some(self.left as usize))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::collections::HashSet;

    #[test]
    fn default_key_has_full_rank_and_every_candidate_steers() {
        let rss = RssConfig::new(4).unwrap();
        let s = PortSolver::new(&rss);
        assert_eq!(s.rank(), INDEX_BITS);
        let local = [10, 0, 0, 2];
        let remote = ([93, 184, 216, 34], 443);
        let mut all = HashSet::new();
        for q in 0..4 {
            let c = s.candidates(local, remote, q, 12345);
            assert_eq!(c.total(), 65536 / 4);
            for p in c {
                assert_eq!(s.reply_queue(local, remote, p), q, "port {p}");
                assert!(all.insert(p), "port {p} listed twice");
            }
        }
        // The four queues' candidate sets partition the whole port space.
        assert_eq!(all.len(), 65536);
    }

    #[test]
    fn ipv6_candidates_steer_for_random_tuples() {
        // 1000 random (local, remote, remote port) triples: every sampled candidate steers to
        // its queue, the whole set for the first four.
        let rss = RssConfig::new(4).unwrap();
        let s = PortSolver::new(&rss);
        assert_eq!(s.rank_v6(), INDEX_BITS);
        let mut rng = crate::testkit::Rng(0x0123_4567_89ab_cdefu64);
        let mut next = || rng.next();
        for i in 0..1000 {
            let mut local = [0u8; 16];
            let mut remote = [0u8; 16];
            local[..8].copy_from_slice(&next().to_be_bytes());
            local[8..].copy_from_slice(&next().to_be_bytes());
            remote[..8].copy_from_slice(&next().to_be_bytes());
            remote[8..].copy_from_slice(&next().to_be_bytes());
            let rport = next() as u16;
            let q = (i % 4) as u16;
            let c = s.candidates_v6(local, (remote, rport), q, next() as u32);
            assert_eq!(c.total(), 65536 / 4);
            // Every candidate of a sample steers home (the whole set for a few tuples).
            let take = if i < 4 { 65536 } else { 16 };
            for p in c.take(take) {
                assert_eq!(s.reply_queue_v6(local, (remote, rport), p), q, "port {p}");
            }
        }
    }

    #[test]
    fn absent_queue_has_no_candidates() {
        let mut rss = RssConfig::new(2).unwrap();
        rss.table = [0; TABLE_LEN];
        let s = PortSolver::new(&rss);
        assert_eq!(
            s.candidates([1, 2, 3, 4], ([5, 6, 7, 8], 80), 1, 0).count(),
            0
        );
    }

    #[test]
    fn random_keys_mostly_have_full_rank_and_zero_keys_do_not() {
        let mut x = 0x1234_5678_u64;
        let full = (0..2000)
            .filter(|_| {
                let mut key = [0u8; 40];
                for chunk in key.chunks_mut(8) {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    chunk.copy_from_slice(&(x ^ (x >> 29)).to_le_bytes());
                }
                PortSolver::new(&RssConfig::with_key(key, 4).unwrap()).full_rank()
            })
            .count();
        assert!(full > 1900 && full < 2000, "{full} of 2000 random keys");
        assert!(PortSolver::new(&RssConfig::new(4).unwrap()).full_rank());
        assert!(!PortSolver::new(&RssConfig::with_key([0; 40], 4).unwrap()).full_rank());
    }

    #[test]
    fn degenerate_key_still_exact() {
        // A key whose port bits barely touch the index: rank < 7, larger null space.
        let mut key = [0u8; 40];
        key[9] = 0x01;
        key[10] = 0x80;
        let rss = RssConfig::with_key(key, 3).unwrap();
        let s = PortSolver::new(&rss);
        assert!(s.rank() < INDEX_BITS);
        let local = [192, 168, 1, 1];
        let remote = ([1, 1, 1, 1], 53);
        let mut n = 0;
        for q in 0..3 {
            for p in s.candidates(local, remote, q, 7) {
                assert_eq!(s.reply_queue(local, remote, p), q);
                n += 1;
            }
        }
        assert_eq!(n, 65536);
    }
}
