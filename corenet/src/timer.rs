//! Periodic timers on the core's clock, so an appliance keeps no hand-made `next_*_ns` fields,
//! and [`Sweep`], the paced visit of every connection that a pass driven by
//! `Sockets::take_ready` needs for deadlines.
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

/// How long a [`Sweep`] takes to visit every connection once, at most.
pub const SWEEP_PERIOD_NS: u64 = 250_000_000;

/// A rotating visit of every connection, a slice per pass sized by the time since the last
/// pass, so that each connection is visited at least once per [`SWEEP_PERIOD_NS`] however
/// many passes run in it: for deadlines (a connection with no news is not visited
/// otherwise) and for any change of state nothing reported. Costs a server with `n`
/// connections `4 n` visits a second, where visiting every connection every pass cost `n`
/// per pass.
#[derive(Debug, Clone, Copy)]
pub struct Sweep {
    cursor: usize,
    /// Connection-nanoseconds owed, below one period's worth after each call.
    debt: u64,
    last_ns: u64,
}

impl Sweep {
    /// A sweep starting at `now_ns`.
    pub fn new(now_ns: u64) -> Self {
        Self {
            cursor: 0,
            debt: 0,
            last_ns: now_ns,
        }
    }

    /// How many of `total` connections to visit in a pass at `now_ns` (all of them once a
    /// period or more has passed since the last pass).
    pub fn due(&mut self, now_ns: u64, total: usize) -> usize {
        let dt = now_ns.saturating_sub(self.last_ns).min(SWEEP_PERIOD_NS);
        self.last_ns = now_ns;
        // At most `total * period` (a few 10^14 for 10^6 connections): no overflow.
        self.debt += total as u64 * dt;
        let n = self.debt / SWEEP_PERIOD_NS;
        self.debt %= SWEEP_PERIOD_NS;
        (n as usize).min(total)
    }

    /// The index the sweep visits next among `total` connections (it wraps; removing the
    /// connection at that index moves another into it, so the caller advances only past a
    /// connection it kept).
    pub fn next(&mut self, total: usize) -> usize {
        if self.cursor >= total {
            self.cursor = 0;
        }
        self.cursor
    }

    /// The connection at [`next`](Self::next) was kept: go past it.
    pub fn advance(&mut self) {
        self.cursor += 1;
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

    #[test]
    fn a_sweep_visits_every_connection_once_a_period_however_many_passes() {
        // Passes every 1 ms: a period's passes visit all 10 000 connections about once.
        let mut sw = Sweep::new(0);
        let (mut now, mut visits) = (0, 0);
        while now < SWEEP_PERIOD_NS {
            now += 1_000_000;
            visits += sw.due(now, 10_000);
        }
        assert_eq!(visits, 10_000);
        // Passes every 10 us: the same visits per period, not a hundred times more.
        let mut visits = 0;
        for _ in 0..SWEEP_PERIOD_NS / 10_000 {
            now += 10_000;
            visits += sw.due(now, 10_000);
        }
        assert_eq!(visits, 10_000);
        // A pass after a long gap visits everyone, once.
        assert_eq!(sw.due(now + 60_000_000_000, 7), 7);
        // No time, no visits; the cursor wraps.
        assert_eq!(sw.due(now + 60_000_000_000, 7), 0);
        assert_eq!(sw.next(3), 0);
        sw.advance();
        sw.advance();
        sw.advance();
        assert_eq!(sw.next(3), 0);
    }
}
