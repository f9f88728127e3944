//! A token bucket on the caller's nanosecond clock (UDP echo replies per core).
//!
//! Integer arithmetic only: credit is kept in token-nanoseconds, so a rate of one token a
//! second and a rate of millions both refill exactly, and a long pause refills to the burst,
//! never beyond.

const SCALE: u64 = 1_000_000_000;

/// `rate` tokens a second, at most `burst` saved up.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: u64,
    cap: u64,
    credit: u64,
    last_ns: u64,
    /// Requests refused.
    pub dropped: u64,
}

impl TokenBucket {
    /// A full bucket at `now_ns`. A `rate` of 0 turns the limit off.
    pub fn new(rate: u64, burst: u64, now_ns: u64) -> Self {
        let cap = burst.max(1).saturating_mul(SCALE);
        Self {
            rate,
            cap,
            credit: cap,
            last_ns: now_ns,
            dropped: 0,
        }
    }

    /// Takes one token if there is one (else counts a drop).
    pub fn allow(&mut self, now_ns: u64) -> bool {
        if self.rate == 0 {
            return true;
        }
        let elapsed = now_ns.saturating_sub(self.last_ns);
        self.last_ns = self.last_ns.max(now_ns);
        self.credit = self
            .credit
            .saturating_add(elapsed.saturating_mul(self.rate))
            .min(self.cap);
        if self.credit >= SCALE {
            self.credit -= SCALE;
            true
        } else {
            self.dropped += 1;
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_rate() {
        let mut b = TokenBucket::new(100, 10, 0);
        assert_eq!((0..50).filter(|_| b.allow(0)).count(), 10, "the burst");
        assert_eq!(b.dropped, 40);
        // 100 a second: one every 10 ms.
        let mut passed = 0;
        for ms in 1..=1000u64 {
            passed += (0..5).filter(|_| b.allow(ms * 1_000_000)).count();
        }
        assert_eq!(passed, 100);
        // A long pause refills to the burst only.
        let t = 10_000 * SCALE;
        assert_eq!((0..50).filter(|_| b.allow(t)).count(), 10);
        // A clock that steps back takes nothing and gives nothing.
        assert!(!b.allow(t - SCALE));
    }

    #[test]
    fn zero_rate_is_unlimited() {
        let mut b = TokenBucket::new(0, 0, 0);
        assert!((0..10_000).all(|_| b.allow(0)));
        assert_eq!(b.dropped, 0);
    }
}
