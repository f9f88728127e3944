//! The smallest corenet appliance: every core says hello, then polls an empty loop, printing
//! a heartbeat from core 0 every `heartbeat=` seconds (default 10; 0 turns it off).
//! `run_for=SECONDS` ends the machine (exit code 0) that long after the ready line; scripts
//! and the boot benchmark use `run_for=0`.
#![no_std]
#![no_main]

use corenet::{Appliance, Core, Step};

struct Hello {
    passes: u64,
    next_beat_ns: u64,
    period_ns: u64,
    stop_after_ns: Option<u64>,
    started_ns: Option<u64>,
}

impl Appliance for Hello {
    const NAME: &'static str = "hello";

    fn init(core: &mut Core) -> Self {
        corenet::log::info!("hello from core {} of {}", core.id(), core.count());
        let secs: u64 = core
            .cmdline()
            .get("heartbeat")
            .and_then(|v| v.parse().ok())
            .unwrap_or(10);
        let period_ns = secs * 1_000_000_000;
        let stop_after_ns = core
            .cmdline()
            .get("run_for")
            .and_then(|v| v.parse::<u64>().ok())
            .map(|s| s * 1_000_000_000);
        Hello {
            passes: 0,
            next_beat_ns: core.now_ns() + period_ns,
            period_ns,
            stop_after_ns,
            started_ns: None,
        }
    }

    fn poll(&mut self, core: &mut Core) -> Step {
        self.passes += 1;
        let now = core.now_ns();
        let started = *self.started_ns.get_or_insert(now);
        if self.stop_after_ns.is_some_and(|d| now - started >= d) {
            return Step::Done(0);
        }
        if core.id() == 0 && self.period_ns > 0 && core.now_ns() >= self.next_beat_ns {
            self.next_beat_ns += self.period_ns;
            corenet::log::info!("heartbeat: {} passes on core 0", self.passes);
        }
        Step::Idle
    }
}

corenet::appliance!(Hello);
