//! Time for the init sequence's waits, supplied by the caller so host tests never sleep.
//!
//! Every wait in the driver polls a condition, and between polls calls [`Delay::delay_us`]. The
//! kernel passes a TSC- or PIT-backed busy wait; tests pass a closure that advances the device
//! model's clock. A wait gives up after its budget of microseconds and returns a typed error.

/// Something that lets time pass.
pub trait Delay {
    /// Waits (or lets the simulated device advance) for about `us` microseconds.
    fn delay_us(&mut self, us: u32);
}

impl<F: FnMut(u32)> Delay for F {
    fn delay_us(&mut self, us: u32) {
        self(us)
    }
}

/// Polls `done` every `poll_us` until it returns true or `budget_us` has passed.
/// Returns whether it became true. The condition is checked once more after the last delay,
/// so a device that finishes exactly at the deadline is not reported as timed out.
pub(crate) fn wait_for(
    delay: &mut impl Delay,
    budget_us: u32,
    poll_us: u32,
    mut done: impl FnMut() -> bool,
) -> bool {
    let poll_us = poll_us.max(1);
    let mut waited = 0u32;
    loop {
        if done() {
            return true;
        }
        if waited >= budget_us {
            return false;
        }
        delay.delay_us(poll_us);
        waited = waited.saturating_add(poll_us);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gives_up_after_the_budget_and_counts_time() {
        let mut slept = 0u32;
        let ok = wait_for(&mut |us| slept += us, 1000, 100, || false);
        assert!(!ok);
        assert_eq!(slept, 1000);
    }

    #[test]
    fn returns_as_soon_as_done() {
        let mut polls = 0;
        let mut slept = 0u32;
        let ok = wait_for(&mut |us| slept += us, 1000, 10, || {
            polls += 1;
            polls == 3
        });
        assert!(ok);
        assert_eq!(slept, 20);
    }
}
