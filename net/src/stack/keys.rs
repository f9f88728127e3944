//! Per-boot secrets derived from the platform seed (SipHash-2-4) and RFC 6528 sequence numbers.
//!
//! Every secret a core uses comes from `StackConfig::seed` through SipHash keyed with the
//! seed and a distinct label, so knowing one (e.g. guessing a bucket collision) tells nothing
//! about another (the ISN or SYN cookie key).

use super::Tuple;

/// SipHash-2-4 (Aumasson and Bernstein) of `msg` under the 128-bit key (`k0`, `k1`).
pub(super) fn siphash24(k0: u64, k1: u64, msg: &[u8]) -> u64 {
    let mut v = [
        k0 ^ 0x736f_6d65_7073_6575,
        k1 ^ 0x646f_7261_6e64_6f6d,
        k0 ^ 0x6c79_6765_6e65_7261,
        k1 ^ 0x7465_6462_7974_6573,
    ];
    let mut chunks = msg.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        compress(&mut v, u64::from_le_bytes(w));
    }
    let mut last = [0u8; 8];
    let rest = chunks.remainder();
    last[..rest.len()].copy_from_slice(rest);
    last[7] = msg.len() as u8;
    compress(&mut v, u64::from_le_bytes(last));
    v[2] ^= 0xff;
    for _ in 0..4 {
        round(&mut v);
    }
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

fn compress(v: &mut [u64; 4], m: u64) {
    v[3] ^= m;
    round(v);
    round(v);
    v[0] ^= m;
}

#[inline]
fn round(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13) ^ v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16) ^ v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21) ^ v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17) ^ v[2];
    v[2] = v[2].rotate_left(32);
}

/// A 128-bit SipHash key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct SipKey(pub u64, pub u64);

impl SipKey {
    /// SipHash of a flow's 20 bytes (remote address, remote port, local port) and `extra`.
    pub fn hash_flow(&self, t: &Tuple, extra: &[u8]) -> u64 {
        let mut m = [0u8; 40];
        m[..16].copy_from_slice(&t.remote);
        m[16..18].copy_from_slice(&t.remote_port.to_be_bytes());
        m[18..20].copy_from_slice(&t.local_port.to_be_bytes());
        let n = extra.len().min(20);
        m[20..20 + n].copy_from_slice(&extra[..n]);
        siphash24(self.0, self.1, &m[..20 + n])
    }
}

/// The secrets of one core, all derived from its seed.
#[derive(Debug, Clone, Copy)]
pub(super) struct Keys {
    /// The flow table's bucket hash.
    pub flow_hash: u64,
    /// Where the ephemeral port allocator starts.
    pub port_cursor: u64,
    /// smoltcp's interface RNG (used for what corenet does not choose itself).
    pub smoltcp_rng: u64,
    /// F of RFC 6528's ISN = M + F(4-tuple, secret).
    pub isn: SipKey,
    /// The MAC of SYN cookies.
    pub cookie: SipKey,
}

impl Keys {
    /// Derives every secret from `seed`: SipHash keyed by the seed, one label per secret.
    pub fn derive(seed: u64) -> Self {
        let k1 = 0x636f_7265_6e65_7421; // a fixed tweak; the secret is the seed
        let d = |label: &[u8]| siphash24(seed, k1, label);
        Self {
            flow_hash: d(b"flow table hash"),
            port_cursor: d(b"port cursor"),
            smoltcp_rng: d(b"smoltcp rng"),
            isn: SipKey(d(b"isn secret 0"), d(b"isn secret 1")),
            cookie: SipKey(d(b"syn cookie secret 0"), d(b"syn cookie secret 1")),
        }
    }
}

/// RFC 6528: ISN = M + F(localip, localport, remoteip, remoteport, secretkey), M a clock of
/// 4 µs ticks. The local address is the same for every flow of the core and left out.
pub(super) fn isn(key: &SipKey, t: &Tuple, now_us: u64) -> u32 {
    let m = (now_us / 4) as u32;
    m.wrapping_add(key.hash_flow(t, &[]) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tuple(last: u8, rport: u16, lport: u16) -> Tuple {
        Tuple {
            remote: crate::ip::mapped([10, 0, 0, last]),
            remote_port: rport,
            local_port: lport,
        }
    }

    #[test]
    fn siphash_matches_the_reference_vector() {
        // The paper's example: key 00..0f, message 00..0e.
        let k0 = u64::from_le_bytes([0, 1, 2, 3, 4, 5, 6, 7]);
        let k1 = u64::from_le_bytes([8, 9, 10, 11, 12, 13, 14, 15]);
        let msg: [u8; 15] = core::array::from_fn(|i| i as u8);
        assert_eq!(siphash24(k0, k1, &msg), 0xa129_ca61_49be_45e5);
        // And the reference table's empty message.
        assert_eq!(siphash24(k0, k1, &[]), 0x726f_db47_dd0e_0e31);
    }

    #[test]
    fn derived_keys_are_distinct_and_seed_dependent() {
        let a = Keys::derive(1);
        let b = Keys::derive(2);
        let all = [
            a.flow_hash,
            a.port_cursor,
            a.smoltcp_rng,
            a.isn.0,
            a.isn.1,
            a.cookie.0,
            a.cookie.1,
        ];
        for (i, x) in all.iter().enumerate() {
            for y in &all[i + 1..] {
                assert_ne!(x, y);
            }
        }
        // Not a rotation of each other either.
        for r in 0..64 {
            assert_ne!(a.flow_hash.rotate_left(r), a.port_cursor);
        }
        assert_ne!(a.flow_hash, b.flow_hash);
        assert_ne!(a.isn, b.isn);
        assert_ne!(a.cookie, b.cookie);
    }

    #[test]
    fn isns_follow_rfc_6528() {
        let k = Keys::derive(42).isn;
        let t = tuple(1, 40_000, 80);
        // Neighbouring tuples: offsets far apart (no visible relation).
        let a = isn(&k, &t, 1_000_000);
        let b = isn(&k, &tuple(1, 40_001, 80), 1_000_000);
        let c = isn(&k, &tuple(2, 40_000, 80), 1_000_000);
        let far = |x: u32, y: u32| x.wrapping_sub(y).min(y.wrapping_sub(x)) > 1 << 16;
        assert!(far(a, b) && far(a, c) && far(b, c), "{a:#x} {b:#x} {c:#x}");
        // The same tuple later: larger by the clock, 1 per 4 µs.
        assert_eq!(isn(&k, &t, 1_000_000 + 4_000), a.wrapping_add(1000));
        assert!((isn(&k, &t, 9_000_000).wrapping_sub(a) as i32) > 0);
        // Another boot (seed): unrelated.
        let other = isn(&Keys::derive(43).isn, &t, 1_000_000);
        assert!(far(a, other));
    }
}
