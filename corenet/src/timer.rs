//! Periodic timers on the core's clock, so an appliance keeps no hand-made `next_*_ns` fields.
//!
//! ```
//! use core::time::Duration;
//! use corenet::timer::Every;
//!
//! let mut report = Every::new(Duration::from_millis(100));
//! assert!(report.due(0), "due at once");
//! assert!(!report.due(50_000_000));
//! assert_eq!(report.deadline_ns(), 100_000_000);
//! assert!(report.due(130_000_000));
//! assert_eq!(report.deadline_ns(), 230_000_000, "the next period starts when it fired");
//! ```

use core::time::Duration;

/// A timer that fires every `period` on the clock it is asked with (ns since boot,
/// [`Core::now_ns`](corenet_kernel::Core::now_ns) in the guest).
///
/// A pass that comes late fires once and starts the next period then: missed periods are
/// not caught up (a report or a sweep wants the latest state, not a burst of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Every {
    period_ns: u64,
    next_ns: u64,
}

impl Every {
    /// A timer due at once, then every `period` (at least 1 ns).
    pub const fn new(period: Duration) -> Self {
        let ns = period.as_nanos();
        let period_ns = if ns > u64::MAX as u128 {
            u64::MAX
        } else if ns == 0 {
            1
        } else {
            ns as u64
        };
        Self {
            period_ns,
            next_ns: 0,
        }
    }

    /// The same timer, first due one period after `now_ns` instead of at once.
    pub const fn after(mut self, now_ns: u64) -> Self {
        self.next_ns = now_ns.saturating_add(self.period_ns);
        self
    }

    /// Whether the timer fires at `now_ns`; if so, the next period starts now.
    #[inline]
    pub fn due(&mut self, now_ns: u64) -> bool {
        if now_ns < self.next_ns {
            return false;
        }
        self.next_ns = now_ns.saturating_add(self.period_ns);
        true
    }

    /// When it fires next (ns), for the core's halt deadline.
    pub fn deadline_ns(&self) -> u64 {
        self.next_ns
    }

    /// The period, ns.
    pub fn period_ns(&self) -> u64 {
        self.period_ns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_once_per_period_and_skips_missed_ones() {
        let mut t = Every::new(Duration::from_secs(1));
        let fired = (0..10_000u64)
            .map(|ms| t.due(ms * 1_000_000))
            .filter(|&f| f)
            .count();
        assert_eq!(fired, 10);
        // A pass 5 s late fires once.
        assert!(t.due(15_000_000_000));
        assert!(!t.due(15_500_000_000));
        assert_eq!(t.deadline_ns(), 16_000_000_000);
    }

    #[test]
    fn after_waits_a_period_and_extremes_saturate() {
        let mut t = Every::new(Duration::from_millis(10)).after(5);
        assert!(!t.due(5));
        assert!(t.due(10_000_005));
        let mut z = Every::new(Duration::ZERO);
        assert_eq!(z.period_ns(), 1);
        assert!(z.due(0) && z.due(1));
        let mut far = Every::new(Duration::MAX).after(1);
        assert_eq!(far.deadline_ns(), u64::MAX);
        assert!(!far.due(u64::MAX - 1));
    }
}
