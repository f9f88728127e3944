//! Lockstep test runner: barrier, run on every core, collect failures, report from core 0.

use core::fmt::Write;
use core::sync::atomic::{AtomicUsize, Ordering};
use corenet::Core;

/// A test body: runs on every core; `Err` carries a reason.
pub type TestFn = fn(&mut Core) -> Result<(), alloc::string::String>;

static ARRIVED: AtomicUsize = AtomicUsize::new(0);
static GENERATION: AtomicUsize = AtomicUsize::new(0);
static FAILED_CORES: AtomicUsize = AtomicUsize::new(0);

/// Waits until every core has arrived (bounded: a stuck core fails the run).
pub fn barrier(core: &Core) {
    let generation = GENERATION.load(Ordering::Acquire);
    if ARRIVED.fetch_add(1, Ordering::AcqRel) + 1 == core.count() {
        ARRIVED.store(0, Ordering::Release);
        GENERATION.fetch_add(1, Ordering::AcqRel);
        return;
    }
    let deadline = core.now_ns() + 60_000_000_000;
    while GENERATION.load(Ordering::Acquire) == generation {
        if core.now_ns() > deadline {
            panic!("barrier: core {} waited 60 s for the others", core.id());
        }
        core::hint::spin_loop();
    }
}

/// Formats a failure reason.
#[macro_export]
macro_rules! fail {
    ($($arg:tt)*) => {
        return Err(alloc::format!($($arg)*))
    };
}

/// Fails with a reason unless `cond` holds.
#[macro_export]
macro_rules! check {
    ($cond:expr, $($arg:tt)*) => {
        if !$cond {
            $crate::fail!($($arg)*);
        }
    };
}

/// Runs every test on every core; returns the exit code (0 = all passed).
pub fn run_all(core: &mut Core, tests: &[(&str, TestFn)]) -> u8 {
    let (mut passed, mut failed) = (0, 0);
    for &(name, test) in tests {
        barrier(core);
        if core.id() == 0 {
            FAILED_CORES.store(0, Ordering::Release);
        }
        barrier(core);
        let result = test(core);
        if let Err(reason) = &result {
            FAILED_CORES.fetch_add(1, Ordering::AcqRel);
            corenet::println!("test {name} FAILED on core {}: {reason}", core.id());
        }
        barrier(core);
        if core.id() == 0 {
            if FAILED_CORES.load(Ordering::Acquire) == 0 {
                passed += 1;
                corenet::println!("test {name} ... ok");
            } else {
                failed += 1;
            }
        }
    }
    barrier(core);
    if core.id() != 0 {
        return 0;
    }
    let mut line = heapless::String::<64>::new();
    let _ = write!(line, "{passed} passed, {failed} failed");
    corenet::println!("{line}");
    u8::from(failed > 0)
}
