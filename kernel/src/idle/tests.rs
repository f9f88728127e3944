//! Host tests of the idle policy and of the halt protocol against every interleaving.

use super::*;

#[test]
fn policy_names_round_trip() {
    for p in [IdlePolicy::Poll, IdlePolicy::Adaptive, IdlePolicy::Halt] {
        assert_eq!(IdlePolicy::parse(p.name()), Some(p));
    }
    assert_eq!(IdlePolicy::parse("sleep"), None);
}

#[test]
fn poll_never_halts_and_halt_halts_at_once() {
    let mut g = Governor::new(IdlePolicy::Poll);
    for t in 0..100 {
        assert_eq!(g.on_pass(false, t * 1_000_000), Next::Poll);
    }
    let mut g = Governor::new(IdlePolicy::Halt);
    assert_eq!(g.on_pass(true, 0), Next::Poll);
    assert_eq!(g.on_pass(false, 1), Next::Halt);
}

#[test]
fn adaptive_halts_after_the_idle_period_and_work_restarts_it() {
    let mut g = Governor::new(IdlePolicy::Adaptive);
    assert_eq!(g.on_pass(false, 1_000), Next::Poll);
    assert_eq!(g.on_pass(false, 1_000 + SPIN_START_NS - 1), Next::Poll);
    assert_eq!(g.on_pass(true, 1_000 + SPIN_START_NS), Next::Poll);
    // The busy pass restarted the period.
    assert_eq!(g.on_pass(false, 2 * SPIN_START_NS), Next::Poll);
    assert_eq!(g.on_pass(false, 3 * SPIN_START_NS), Next::Halt);
    g.on_refused();
    assert_eq!(g.on_pass(false, 3 * SPIN_START_NS + 1), Next::Poll);
}

#[test]
fn adaptive_period_grows_on_short_halts_with_work_and_shrinks_otherwise() {
    let mut g = Governor::new(IdlePolicy::Adaptive);
    g.on_wake(10_000, WakeReason::Work);
    assert_eq!(g.spin_ns(), 2 * SPIN_START_NS);
    for _ in 0..20 {
        g.on_wake(10_000, WakeReason::Work);
    }
    assert_eq!(g.spin_ns(), SPIN_MAX_NS, "bounded above");
    g.on_wake(10_000, WakeReason::Nothing);
    assert_eq!(g.spin_ns(), SPIN_MAX_NS / 2);
    for _ in 0..20 {
        g.on_wake(SPIN_MAX_NS * 10, WakeReason::Work);
    }
    assert_eq!(g.spin_ns(), SPIN_MIN_NS, "bounded below");
    let mut h = Governor::new(IdlePolicy::Halt);
    h.on_wake(1, WakeReason::Work);
    assert_eq!(h.spin_ns(), 0, "halt does not adapt");
}

/// Where in the sleeper's sequence a poster step runs.
const BEFORE: u8 = 0;
const AT_ARM: u8 = 1;
const AT_RECHECK: u8 = 2;
const AT_HALT: u8 = 3;
const WHILE_HALTED: u8 = 4;

/// One core halting while another posts one message and wakes it if it sleeps.
struct Model<'a> {
    flag: &'a Sleeper,
    queued: bool,
    ipi_pending: bool,
    /// Points at which the poster's two steps (publish, then check-and-wake) run.
    publish_at: u8,
    wake_at: u8,
    /// The poster checks the flag before publishing (a broken poster).
    check_first: bool,
    done: [bool; 2],
    halted_for_good: bool,
}

impl Model<'_> {
    fn run_poster(&mut self, point: u8) {
        let steps = if self.check_first { [1, 0] } else { [0, 1] };
        for s in steps {
            let at = if s == 0 {
                self.publish_at
            } else {
                self.wake_at
            };
            if at != point || self.done[s] {
                continue;
            }
            // Steps run in program order: the second waits for the first.
            let first = steps[0];
            if s != first && !self.done[first] {
                continue;
            }
            self.done[s] = true;
            if s == 0 {
                self.queued = true;
            } else if self.flag.needs_wake() {
                self.ipi_pending = true;
            }
        }
    }
}

impl HaltPlatform for Model<'_> {
    fn arm(&mut self) -> bool {
        self.run_poster(AT_ARM);
        true
    }
    fn recheck(&mut self) -> bool {
        self.run_poster(AT_RECHECK);
        self.queued
    }
    fn halt(&mut self) {
        self.run_poster(AT_HALT);
        if self.ipi_pending {
            return;
        }
        // Blocked: only an IPI sent from now on ends the halt.
        self.run_poster(WHILE_HALTED);
        self.halted_for_good = !self.ipi_pending;
    }
}

/// Runs every schedule of the poster's two steps; returns how many lost the message (the
/// core stayed halted with it queued).
fn lost_wakeups(check_first: bool, sleeper: fn(&Sleeper, &mut Model<'_>) -> SleepOutcome) -> usize {
    let mut lost = 0;
    for a in BEFORE..=WHILE_HALTED {
        for b in a..=WHILE_HALTED {
            let flag = Sleeper::new();
            let mut m = Model {
                flag: &flag,
                queued: false,
                ipi_pending: false,
                publish_at: if check_first { b } else { a },
                wake_at: if check_first { a } else { b },
                check_first,
                done: [false; 2],
                halted_for_good: false,
            };
            m.run_poster(BEFORE);
            let _ = sleeper(&flag, &mut m);
            if m.halted_for_good && m.queued {
                lost += 1;
            }
        }
    }
    lost
}

#[test]
fn no_interleaving_loses_a_wakeup() {
    assert_eq!(lost_wakeups(false, |f, m| sleep(f, m)), 0);
}

/// The same model catches the two classic mistakes, so the test above can fail.
#[test]
fn the_model_catches_a_late_announce_and_a_poster_that_checks_first() {
    fn late_announce(flag: &Sleeper, p: &mut Model<'_>) -> SleepOutcome {
        if !p.arm() || p.recheck() {
            return SleepOutcome::Refused;
        }
        // The poster may run between the last look and the announcement.
        p.run_poster(AT_HALT);
        flag.announce();
        p.halt();
        flag.awake();
        SleepOutcome::Woken
    }
    assert!(lost_wakeups(false, late_announce) > 0);
    assert!(lost_wakeups(true, |f, m| sleep(f, m)) > 0);
}

#[test]
fn refuses_when_a_source_cannot_be_armed() {
    struct NoIrq(bool);
    impl HaltPlatform for NoIrq {
        fn arm(&mut self) -> bool {
            false
        }
        fn recheck(&mut self) -> bool {
            false
        }
        fn halt(&mut self) {
            self.0 = true;
        }
    }
    let flag = Sleeper::new();
    let mut p = NoIrq(false);
    assert_eq!(sleep(&flag, &mut p), SleepOutcome::Refused);
    assert!(!p.0 && !flag.needs_wake());
}
