//! Idle policy per core: when a core stops polling and halts, and the halt protocol that loses
//! no wake-up. Pure logic (no hardware), so it is tested on the host.
//!
//! A core polls while passes find work. Under `idle=adaptive` it keeps polling through an idle
//! period ([`Governor`]) and then halts until an interrupt: a wake-up source (APIC timer for
//! the next deadline, an IPI from a core that posted to it, a NIC interrupt) ends the halt.
//! The period adapts like Linux's haltpoll: it doubles when a halt was cut short by work
//! (polling longer would have caught it without the halt's cost) and halves when a halt ran
//! long or ended with nothing to do.
//!
//! The classic race: a core decides to halt, another core posts a message and sees no reason
//! to wake it, the core halts with work queued. [`Sleeper`] closes it: the halting core
//! announces itself sleeping *before* its last look at every queue, and a poster checks the
//! flag *after* making its message visible (both sequentially consistent), so at least one of
//! them sees the other. [`sleep`] is that sequence over a [`HaltPlatform`]; the kernel runs it
//! with interrupts disabled so an IPI that arrives after the last look stays pending and ends
//! the `sti; hlt` at once.

use core::sync::atomic::{AtomicBool, Ordering, fence};

/// `idle=` on the kernel command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdlePolicy {
    /// Poll forever (lowest latency, one host core per vCPU): for benchmarks that want it.
    Poll,
    /// Poll through an adaptive idle period, then halt until a wake-up source fires (the default).
    Adaptive,
    /// Halt as soon as a pass finds no work.
    Halt,
}

impl IdlePolicy {
    /// The command-line spelling.
    pub fn name(self) -> &'static str {
        match self {
            IdlePolicy::Poll => "poll",
            IdlePolicy::Adaptive => "adaptive",
            IdlePolicy::Halt => "halt",
        }
    }

    /// Parses `poll`, `adaptive` or `halt`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "poll" => Some(IdlePolicy::Poll),
            "adaptive" => Some(IdlePolicy::Adaptive),
            "halt" => Some(IdlePolicy::Halt),
            _ => None,
        }
    }
}

/// Idle period before the first halt under `adaptive`.
pub const SPIN_START_NS: u64 = 200_000;
/// Shortest adaptive idle period.
pub const SPIN_MIN_NS: u64 = 50_000;
/// Longest adaptive idle period.
pub const SPIN_MAX_NS: u64 = 2_000_000;

/// What the run loop does after a pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Poll again (after a `pause` when the pass was idle).
    Poll,
    /// Try to halt (the [`sleep`] protocol may still find work and refuse).
    Halt,
}

/// Why a halt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WakeReason {
    /// The next pass found work (a packet, a message): the halt delayed it.
    Work,
    /// Nothing to do after waking (a timer with no due work).
    Nothing,
}

/// Decides, pass by pass, when a core halts.
#[derive(Debug, Clone)]
pub struct Governor {
    policy: IdlePolicy,
    spin_ns: u64,
    idle_since: Option<u64>,
}

impl Governor {
    /// A governor for `policy`.
    pub fn new(policy: IdlePolicy) -> Self {
        let spin_ns = match policy {
            IdlePolicy::Halt => 0,
            _ => SPIN_START_NS,
        };
        Self {
            policy,
            spin_ns,
            idle_since: None,
        }
    }

    /// The current idle period before a halt.
    pub fn spin_ns(&self) -> u64 {
        self.spin_ns
    }

    /// The policy.
    pub fn policy(&self) -> IdlePolicy {
        self.policy
    }

    /// After a pass at `now_ns` that did (`busy`) or did not find work.
    pub fn on_pass(&mut self, busy: bool, now_ns: u64) -> Next {
        if busy || self.policy == IdlePolicy::Poll {
            self.idle_since = None;
            return Next::Poll;
        }
        let since = *self.idle_since.get_or_insert(now_ns);
        if now_ns.saturating_sub(since) >= self.spin_ns {
            Next::Halt
        } else {
            Next::Poll
        }
    }

    /// The halt protocol found work at its last look: poll on.
    pub fn on_refused(&mut self) {
        self.idle_since = None;
    }

    /// A halt of `slept_ns` ended for `why`: adapt the idle period and start a new one.
    pub fn on_wake(&mut self, slept_ns: u64, why: WakeReason) {
        self.idle_since = None;
        if self.policy != IdlePolicy::Adaptive {
            return;
        }
        self.spin_ns = if why == WakeReason::Work && slept_ns < SPIN_MAX_NS {
            (self.spin_ns * 2).min(SPIN_MAX_NS)
        } else {
            (self.spin_ns / 2).max(SPIN_MIN_NS)
        };
    }
}

/// A core's "I am halted or about to halt" flag, read by cores that post work to it.
#[derive(Debug)]
pub struct Sleeper {
    sleeping: AtomicBool,
}

impl Default for Sleeper {
    fn default() -> Self {
        Self::new()
    }
}

impl Sleeper {
    /// Awake.
    pub const fn new() -> Self {
        Self {
            sleeping: AtomicBool::new(false),
        }
    }

    /// The owning core is about to take its last look before halting.
    pub fn announce(&self) {
        self.sleeping.store(true, Ordering::SeqCst);
        // Order the store before the loads of the last look (a store-load barrier).
        fence(Ordering::SeqCst);
    }

    /// The owning core is polling again.
    pub fn awake(&self) {
        self.sleeping.store(false, Ordering::Relaxed);
    }

    /// Called by a poster *after* its message is visible: whether the owner must be sent a
    /// wake-up IPI. A polling owner costs one load of a line it rarely writes.
    pub fn needs_wake(&self) -> bool {
        fence(Ordering::SeqCst);
        self.sleeping.load(Ordering::SeqCst)
    }
}

/// The hardware side of a halt (interrupts off on entry).
pub trait HaltPlatform {
    /// Enables the wake-up sources for the work that can arrive (NIC interrupts); false when
    /// some source of work cannot interrupt the core, so it must not halt.
    fn arm(&mut self) -> bool;
    /// The last look at every queue and mailbox: true when there is work.
    fn recheck(&mut self) -> bool;
    /// Programs the timer and halts with interrupts enabled (`sti; hlt`: an interrupt already
    /// pending ends the halt at once); returns when an interrupt has been taken.
    fn halt(&mut self);
}

/// How [`sleep`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SleepOutcome {
    /// Work was found at the last look, or a source could not be armed: no halt.
    Refused,
    /// The core halted and an interrupt woke it.
    Woken,
}

/// The halt sequence: announce, arm, last look, halt. See the module docs for why this order.
pub fn sleep<P: HaltPlatform>(flag: &Sleeper, p: &mut P) -> SleepOutcome {
    flag.announce();
    if !p.arm() || p.recheck() {
        flag.awake();
        return SleepOutcome::Refused;
    }
    p.halt();
    flag.awake();
    SleepOutcome::Woken
}

#[cfg(test)]
mod tests;
