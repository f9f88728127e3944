//! SYN cookies (RFC 4987): a SYN-ACK whose ISN carries a keyed MAC, so no state is kept.
//!
//! Layout of the 32-bit cookie (our ISN in the SYN-ACK; the peer's ACK echoes it + 1):
//!
//! ```text
//!   31..28  time counter, low 4 bits (periods of COOKIE_PERIOD_US)
//!   27..26  index into MSS_TABLE
//!   25..0   SipHash(key, 4-tuple, peer ISN, full counter, MSS index), low 26 bits
//! ```
//!
//! A cookie is valid during the period it was made in and the next one (64 to 128 s), for the
//! same flow, the same peer ISN, and under the same per-boot key. A blind forger has one
//! chance in 2^26 per guess; cookies are only looked at on a port that sent some recently.

use super::Tuple;
use super::keys::SipKey;

/// MSS values a cookie can carry (the largest at or below the peer's is used).
pub(super) const MSS_TABLE: [u16; 4] = [536, 1220, 1440, 1460];

/// Length of one period of the cookie's time counter, microseconds.
pub(super) const COOKIE_PERIOD_US: u64 = 64_000_000;

const MAC_BITS: u32 = 26;
const MAC_MASK: u32 = (1 << MAC_BITS) - 1;

fn mac(key: &SipKey, t: &Tuple, peer_isn: u32, counter: u64, mss_index: u32) -> u32 {
    let mut extra = [0u8; 13];
    extra[..4].copy_from_slice(&peer_isn.to_be_bytes());
    extra[4..12].copy_from_slice(&counter.to_be_bytes());
    extra[12] = mss_index as u8;
    key.hash_flow(t, &extra) as u32 & MAC_MASK
}

/// The index of the largest table MSS not above `peer_mss` (the smallest if none is).
pub(super) fn mss_index(peer_mss: Option<u16>) -> u32 {
    let m = peer_mss.unwrap_or(MSS_TABLE[0]);
    MSS_TABLE.iter().rposition(|&x| x <= m).unwrap_or(0) as u32
}

/// The cookie for a SYN of flow `t` with sequence number `peer_isn` and MSS option
/// `peer_mss`, at `now_us`.
pub(super) fn encode(
    key: &SipKey,
    t: &Tuple,
    peer_isn: u32,
    peer_mss: Option<u16>,
    now_us: u64,
) -> u32 {
    let counter = now_us / COOKIE_PERIOD_US;
    let idx = mss_index(peer_mss);
    ((counter as u32 & 0xf) << 28) | (idx << MAC_BITS) | mac(key, t, peer_isn, counter, idx)
}

/// Checks `cookie` (the peer's acknowledgment number - 1) for flow `t` whose ACK carries
/// sequence number `peer_isn + 1`; returns the MSS it encodes if it is ours and recent.
pub(super) fn decode(
    key: &SipKey,
    t: &Tuple,
    peer_isn: u32,
    cookie: u32,
    now_us: u64,
) -> Option<u16> {
    let now = now_us / COOKIE_PERIOD_US;
    let age = (now as u32).wrapping_sub(cookie >> 28) & 0xf;
    if age > 1 || u64::from(age) > now {
        return None;
    }
    let counter = now - u64::from(age);
    let idx = (cookie >> MAC_BITS) & 0x3;
    (mac(key, t, peer_isn, counter, idx) == cookie & MAC_MASK).then(|| MSS_TABLE[idx as usize])
}

#[cfg(test)]
mod tests {
    use super::super::keys::Keys;
    use super::*;

    fn t(port: u16) -> Tuple {
        Tuple {
            remote: crate::ip::mapped([192, 0, 2, 7]),
            remote_port: port,
            local_port: 80,
        }
    }

    #[test]
    fn a_cookie_validates_for_its_flow_only() {
        let k = Keys::derive(7).cookie;
        let now = 5 * COOKIE_PERIOD_US + 123;
        let c = encode(&k, &t(1000), 0xdead_beef, Some(1460), now);
        assert_eq!(decode(&k, &t(1000), 0xdead_beef, c, now), Some(1460));
        // Still good in the next period, not after.
        assert_eq!(
            decode(&k, &t(1000), 0xdead_beef, c, now + COOKIE_PERIOD_US),
            Some(1460)
        );
        assert_eq!(
            decode(&k, &t(1000), 0xdead_beef, c, now + 2 * COOKIE_PERIOD_US),
            None
        );
        // Nor 16 periods later, when the 4-bit counter comes round again.
        assert_eq!(
            decode(&k, &t(1000), 0xdead_beef, c, now + 16 * COOKIE_PERIOD_US),
            None
        );
        // Nor before it was made (a clock that went back).
        assert_eq!(
            decode(&k, &t(1000), 0xdead_beef, c, now - COOKIE_PERIOD_US),
            None
        );
        // Wrong tuple, wrong peer ISN, another boot's key.
        assert_eq!(decode(&k, &t(1001), 0xdead_beef, c, now), None);
        let mut other = t(1000);
        other.remote = crate::ip::mapped([192, 0, 2, 8]);
        assert_eq!(decode(&k, &other, 0xdead_beef, c, now), None);
        assert_eq!(decode(&k, &t(1000), 0xdead_bef0, c, now), None);
        assert_eq!(
            decode(&Keys::derive(8).cookie, &t(1000), 0xdead_beef, c, now),
            None
        );
    }

    #[test]
    fn forged_cookies_fail() {
        let k = Keys::derive(7).cookie;
        let now = 3 * COOKIE_PERIOD_US;
        let c = encode(&k, &t(1), 1, None, now);
        // Every single-bit change of a valid cookie fails (MSS bits included).
        for bit in 0..32 {
            assert_eq!(decode(&k, &t(1), 1, c ^ (1 << bit), now), None, "bit {bit}");
        }
        // Blind guesses: with a 26-bit MAC, 100 000 tries essentially never pass.
        let mut s = 0x1234_5678u32;
        let mut passed = 0;
        for _ in 0..100_000 {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            passed += usize::from(decode(&k, &t(1), 1, s, now).is_some());
        }
        assert!(passed <= 1, "{passed} forged cookies passed");
    }

    #[test]
    fn mss_is_rounded_down_to_the_table() {
        let k = Keys::derive(1).cookie;
        for (peer, want) in [
            (None, 536),
            (Some(100), 536),
            (Some(1219), 536),
            (Some(1220), 1220),
            (Some(1459), 1440),
            (Some(9000), 1460),
        ] {
            let c = encode(&k, &t(9), 77, peer, 0);
            assert_eq!(decode(&k, &t(9), 77, c, 0), Some(want), "{peer:?}");
        }
    }
}
