//! A hashed timing wheel of bucket deadlines: O(1) arm, O(expired + slot) per tick.
//!
//! smoltcp tells each socket set's next deadline (`Interface::poll_at`); the wheel remembers
//! it per bucket so a poll only egresses buckets whose timers are due, instead of every
//! socket. Entries are never cancelled: a stale entry (its bucket re-armed elsewhere) is
//! recognised on expiry and skipped.

use alloc::vec;
use alloc::vec::Vec;

const SLOTS: usize = 256;
/// Tick length in milliseconds (smoltcp's timers are in milliseconds).
const TICK_MS: i64 = 1;

/// The wheel.
#[derive(Debug)]
pub struct Wheel {
    slots: Vec<Vec<(u32, i64)>>,
    /// Last tick processed.
    tick: i64,
}

impl Wheel {
    /// An empty wheel starting at `now_ms`.
    pub fn new(now_ms: i64) -> Self {
        Self {
            slots: vec![Vec::new(); SLOTS],
            tick: now_ms / TICK_MS,
        }
    }

    /// Remembers that `bucket` is due at `at_ms`.
    pub fn arm(&mut self, bucket: u32, at_ms: i64) {
        let t = (at_ms / TICK_MS).max(self.tick + 1);
        self.slots[(t as usize) % SLOTS].push((bucket, at_ms));
    }

    /// The earliest deadline in the wheel (stale entries included: an early wake-up costs
    /// one empty poll). O(entries); called only when a core is about to halt.
    pub fn next_due_ms(&self) -> Option<i64> {
        self.slots.iter().flatten().map(|&(_, at)| at).min()
    }

    /// Calls `fire(bucket, deadline)` for every entry due at `now_ms`.
    pub fn advance(&mut self, now_ms: i64, mut fire: impl FnMut(u32, i64)) {
        let target = now_ms / TICK_MS;
        if target <= self.tick {
            return;
        }
        // After a long gap, one pass over every slot is enough.
        let steps = (target - self.tick).min(SLOTS as i64);
        for i in 1..=steps {
            let slot = &mut self.slots[((self.tick + i) as usize) % SLOTS];
            slot.retain(|&(b, at)| {
                if at <= now_ms {
                    fire(b, at);
                    false
                } else {
                    true
                }
            });
        }
        self.tick = target;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::vec::Vec;

    #[test]
    fn fires_on_time_and_after_gaps() {
        let mut w = Wheel::new(0);
        w.arm(1, 5);
        w.arm(2, 1000);
        w.arm(3, 0); // in the past: fires at the next tick
        assert_eq!(w.next_due_ms(), Some(0));
        let mut got = Vec::new();
        w.advance(4, |b, _| got.push(b));
        assert_eq!(got, [3]);
        w.advance(5, |b, _| got.push(b));
        assert_eq!(got, [3, 1]);
        w.advance(999, |b, _| got.push(b));
        assert_eq!(got, [3, 1]);
        assert_eq!(w.next_due_ms(), Some(1000));
        w.advance(5000, |b, _| got.push(b));
        assert_eq!(got, [3, 1, 2]);
        assert_eq!(w.next_due_ms(), None);
    }
}
