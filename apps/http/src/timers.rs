//! Per-connection deadlines against slow and greedy clients, and which idle connection to evict.
//!
//! A connection is always in one [`Phase`]: reading a request, sending buffered output, or
//! idle between requests. Each phase has its own limit, counted from when the phase began
//! (for reading: the connection's start or the request's first byte, however slowly the rest
//! trickles in; for sending: the last byte the peer took). Time is the caller's monotonic
//! clock in nanoseconds, so tests drive it by hand.

/// What a connection is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Waiting for (the rest of) a request.
    Reading,
    /// Output is buffered and the peer has not taken it all.
    Sending,
    /// Between requests (keep-alive) or, for echo, nothing in flight.
    Idle,
}

/// Limits per phase, nanoseconds; 0 turns a limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// A request must be complete this long after its first byte (the first request: after
    /// the connection opened).
    pub header_ns: u64,
    /// An idle keep-alive connection is closed after this long.
    pub idle_ns: u64,
    /// A peer that takes none of the buffered output for this long is reset.
    pub send_ns: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            header_ns: 10 * SECOND,
            idle_ns: 60 * SECOND,
            send_ns: 60 * SECOND,
        }
    }
}

/// One second in nanoseconds.
pub const SECOND: u64 = 1_000_000_000;

/// Which limit ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// The request did not complete in time (slowloris): reset.
    Header,
    /// Idle too long: closed.
    Idle,
    /// The peer stopped reading: reset.
    Send,
}

/// A connection's phase and since when it has been in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timer {
    phase: Phase,
    since_ns: u64,
}

impl Timer {
    /// A connection opened at `now_ns`, starting in `phase` (HTTP: `Reading`, the first
    /// request's clock runs from the start; echo: `Idle`).
    pub fn new(now_ns: u64, phase: Phase) -> Self {
        Self {
            phase,
            since_ns: now_ns,
        }
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Since when the connection has been in its phase.
    pub fn since_ns(&self) -> u64 {
        self.since_ns
    }

    /// Records the phase after a pass; `progress` says the peer took output in this pass,
    /// which restarts every clock (an answered request is activity even when the connection
    /// is idle again by the end of the pass, or already holds the start of the next request:
    /// a pipelining client whose segments split requests ends every pass `Reading`). Reading
    /// bytes restarts nothing: a request has to complete, not merely move.
    pub fn update(&mut self, now_ns: u64, phase: Phase, progress: bool) {
        if phase != self.phase || progress {
            self.phase = phase;
            self.since_ns = now_ns;
        }
    }

    /// The limit that ran out at `now_ns`, if any.
    pub fn expired(&self, now_ns: u64, t: &Timeouts) -> Option<Expiry> {
        let (limit, e) = match self.phase {
            Phase::Reading => (t.header_ns, Expiry::Header),
            Phase::Sending => (t.send_ns, Expiry::Send),
            Phase::Idle => (t.idle_ns, Expiry::Idle),
        };
        (limit > 0 && now_ns.saturating_sub(self.since_ns) >= limit).then_some(e)
    }
}

/// Index of the connection in `phase` for longest, if it has been for `min_ns` at least.
///
/// Eviction asks for [`Phase::Idle`] first: the connection idle for longest makes room for a
/// new one. A connection that has just gone idle may still have its last response in flight
/// in the TCP send buffer, which a reset would destroy: hence the minimum. When no connection
/// is idle, the next victim is the one whose request has been incomplete for longest
/// ([`Phase::Reading`]; a slowloris client fills every slot with those), and last the one
/// whose peer has taken no output for longest ([`Phase::Sending`]: `since` is its last
/// progress, so a peer that reads is never old enough).
pub fn oldest_in<'a>(
    timers: impl Iterator<Item = &'a Timer>,
    phase: Phase,
    now_ns: u64,
    min_ns: u64,
) -> Option<usize> {
    timers
        .enumerate()
        .filter(|(_, t)| t.phase == phase && now_ns.saturating_sub(t.since_ns) >= min_ns)
        .min_by_key(|(_, t)| t.since_ns)
        .map(|(i, _)| i)
}

/// Whether a core holding `connections` of at most `limit` should evict an idle connection
/// now: when fewer than `limit / 16 + 1` slots are free, so that the next burst of SYNs finds
/// room instead of a RST (the stack refuses at the limit, before the application sees it).
pub fn should_evict(connections: usize, limit: usize) -> bool {
    connections + limit / 16 + 1 > limit
}

/// How long a [`Sweep`] takes to visit every connection once, at most.
pub const SWEEP_PERIOD_NS: u64 = SECOND / 4;

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

    const T: Timeouts = Timeouts {
        header_ns: 10 * SECOND,
        idle_ns: 60 * SECOND,
        send_ns: 30 * SECOND,
    };

    #[test]
    fn header_deadline_counts_from_the_start_however_bytes_trickle() {
        let mut t = Timer::new(0, Phase::Reading);
        // A byte every 3 s keeps the connection reading, never completing.
        for s in (3..30).step_by(3) {
            t.update(s * SECOND, Phase::Reading, false);
            let want = (s >= 10).then_some(Expiry::Header);
            assert_eq!(t.expired(s * SECOND, &T), want, "at {s} s");
        }
    }

    #[test]
    fn each_phase_has_its_own_clock() {
        let mut t = Timer::new(0, Phase::Reading);
        t.update(9 * SECOND, Phase::Sending, false); // request complete at 9 s
        assert_eq!(t.expired(38 * SECOND, &T), None);
        t.update(38 * SECOND, Phase::Sending, true); // the peer read some
        assert_eq!(t.expired(67 * SECOND, &T), None);
        assert_eq!(t.expired(68 * SECOND, &T), Some(Expiry::Send));
        t.update(68 * SECOND, Phase::Idle, true);
        assert_eq!(t.expired(127 * SECOND, &T), None);
        assert_eq!(t.expired(128 * SECOND, &T), Some(Expiry::Idle));
        t.update(120 * SECOND, Phase::Idle, true); // a request answered within the pass
        assert_eq!(t.expired(179 * SECOND, &T), None);
        t.update(100 * SECOND, Phase::Reading, false); // next request's first byte
        assert_eq!(t.expired(109 * SECOND, &T), None);
        assert_eq!(t.expired(110 * SECOND, &T), Some(Expiry::Header));
        let off = Timeouts {
            header_ns: 0,
            idle_ns: 0,
            send_ns: 0,
        };
        assert_eq!(t.expired(u64::MAX, &off), None);
    }

    #[test]
    fn eviction_picks_the_longest_in_a_phase() {
        let ts = [
            Timer::new(1, Phase::Reading),
            Timer::new(5, Phase::Idle),
            Timer::new(2, Phase::Sending),
            Timer::new(3, Phase::Idle),
            Timer::new(4, Phase::Idle),
        ];
        let idle = |n, min| oldest_in(ts.iter(), Phase::Idle, n, min);
        assert_eq!(idle(10, 0), Some(3));
        assert_eq!(idle(10, 7), Some(3));
        assert_eq!(idle(10, 8), None, "none idle long enough");
        assert_eq!(oldest_in(ts[..1].iter(), Phase::Idle, 10, 0), None);
        assert_eq!(oldest_in(ts.iter(), Phase::Reading, 10, 9), Some(0));
        assert_eq!(oldest_in(ts.iter(), Phase::Reading, 10, 10), None);
        assert!(!should_evict(10, 256));
        assert!(!should_evict(239, 256));
        assert!(should_evict(240, 256));
        assert!(should_evict(16, 16));
        assert!(!should_evict(15, 17));
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
        assert_eq!(sw.due(now + 60 * SECOND, 7), 7);
        // No time, no visits; the cursor wraps.
        assert_eq!(sw.due(now + 60 * SECOND, 7), 0);
        assert_eq!(sw.next(3), 0);
        sw.advance();
        sw.advance();
        sw.advance();
        assert_eq!(sw.next(3), 0);
    }
}
