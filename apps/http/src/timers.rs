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
}
