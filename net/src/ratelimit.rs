//! A token bucket: at most `burst` events at once, refilled at `rate` events per second.
//!
//! Time comes from the caller (microseconds of any monotonic clock), so the bucket runs on
//! the platform's clock in the guest and on a virtual clock in tests. Tokens are kept in
//! millionths, so any rate from 1 to millions per second refills smoothly without floating
//! point; every step saturates, so no clock value (a jump, or time going backwards) can
//! overflow or panic.

/// Millionths of a token per token.
const SCALE: u64 = 1_000_000;

/// A token bucket over a caller-supplied clock.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    /// Tokens added per second.
    rate: u64,
    /// Most tokens held, in millionths.
    cap: u64,
    /// Tokens held, in millionths.
    level: u64,
    /// Clock of the last refill, microseconds.
    last_us: u64,
}

impl TokenBucket {
    /// A full bucket of `burst` tokens refilled at `rate` tokens per second, starting at
    /// `now_us`. `burst` 0 never allows an event.
    pub fn new(rate: u32, burst: u32, now_us: u64) -> Self {
        let cap = u64::from(burst) * SCALE;
        Self {
            rate: u64::from(rate),
            cap,
            level: cap,
            last_us: now_us,
        }
    }

    /// Takes one token at `now_us` if there is one; false means the event should not
    /// happen (drop it).
    pub fn try_take(&mut self, now_us: u64) -> bool {
        self.refill(now_us);
        if self.level >= SCALE {
            self.level -= SCALE;
            true
        } else {
            false
        }
    }

    /// Whole tokens available at `now_us`.
    pub fn available(&mut self, now_us: u64) -> u64 {
        self.refill(now_us);
        self.level / SCALE
    }

    fn refill(&mut self, now_us: u64) {
        // A clock that went backwards adds nothing (and does not move `last_us` back).
        let elapsed = now_us.saturating_sub(self.last_us);
        self.last_us = self.last_us.max(now_us);
        // rate tokens per second = rate millionths of a token per microsecond.
        let add = elapsed.saturating_mul(self.rate);
        self.level = self.level.saturating_add(add).min(self.cap);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_rate() {
        let mut b = TokenBucket::new(1000, 50, 0);
        let took = (0..200).filter(|_| b.try_take(0)).count();
        assert_eq!(took, 50, "the burst, at one instant");
        assert!(!b.try_take(999), "less than one token after 999 us");
        assert!(b.try_take(1000), "one token per ms at 1000/s");
        assert!(!b.try_take(1000));
        // 10 ms later: 10 tokens.
        let took = (0..100).filter(|_| b.try_take(11_000)).count();
        assert_eq!(took, 10);
        // A long pause refills to the burst, not beyond.
        assert_eq!(b.available(60_000_000), 50);
    }

    #[test]
    fn slow_rates_accumulate_fractions() {
        let mut b = TokenBucket::new(3, 1, 0);
        assert!(b.try_take(0));
        assert!(!b.try_take(333_333));
        assert!(b.try_take(333_334), "1/3 s later at 3/s");
    }

    #[test]
    fn clock_jumps_and_zero_burst_are_harmless() {
        let mut b = TokenBucket::new(u32::MAX, u32::MAX, u64::MAX - 5);
        assert!(b.try_take(u64::MAX));
        assert!(b.try_take(3), "time going backwards keeps what is there");
        let mut none = TokenBucket::new(1000, 0, 0);
        assert!(!none.try_take(0));
        assert!(!none.try_take(10_000_000));
        let mut never = TokenBucket::new(0, 2, 0);
        assert!(never.try_take(0) && never.try_take(5) && !never.try_take(u64::MAX));
    }
}
