//! corenet's in-guest test suite.
//!
//! Every core runs the same list of tests in lockstep (a barrier between tests); a test body
//! gets the core it runs on and may coordinate with the others through statics. Core 0 prints
//! `test NAME ... ok|FAILED` per test and the closing `N passed, N failed` line, then the
//! machine exits with 0 (all passed) or 1. `tests/qemu/run.sh` boots this binary over the
//! machine/CPU/core-count matrix.
//!
//! `test=fault`, `test=guard`, `test=panic` and `test=oom` on the command line instead provoke
//! a page fault, a stack overflow into a guard page, a panic and heap exhaustion, on the last
//! core: the harness then checks the report and the exit code the kernel produces.
#![no_std]
#![no_main]

extern crate alloc;

mod harness;
mod tests;

use corenet::{Appliance, Core, Step};

struct GuestTests;

impl Appliance for GuestTests {
    const NAME: &'static str = "guest-tests";

    fn init(_core: &mut Core) -> Self {
        GuestTests
    }

    fn poll(&mut self, core: &mut Core) -> Step {
        if let Some(mode) = core.cmdline().get("test") {
            tests::provoke(core, mode);
        }
        Step::Done(harness::run_all(core, tests::ALL))
    }
}

corenet::appliance!(GuestTests);
