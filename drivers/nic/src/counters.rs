//! Per-queue counters: one writer (the owning core), any number of lock-free readers.

use core::sync::atomic::{AtomicU64, Ordering};

/// A monotonically increasing counter with a single writer.
///
/// The owning core updates it with a plain load and store (no locked read-modify-write on the
/// per-packet path); other cores may read it at any time and see a value that was current at
/// some recent point. Two writers would lose updates: a counter belongs to exactly one core.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// A counter at zero.
    pub const fn new() -> Self {
        Self(AtomicU64::new(0))
    }

    /// Adds `n`. Only the owning core may call this.
    #[inline]
    pub fn add(&self, n: u64) {
        let v = self.0.load(Ordering::Relaxed);
        self.0.store(v.wrapping_add(n), Ordering::Relaxed);
    }

    /// Adds one. Only the owning core may call this.
    #[inline]
    pub fn inc(&self) {
        self.add(1);
    }

    /// Current value; callable from any core.
    #[inline]
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Counters of one side (receive or transmit) of one queue.
///
/// Aligned to a cache line so the RX side, the TX side and other queues never share a line.
#[derive(Debug, Default)]
#[repr(align(64))]
pub struct QueueCounters {
    /// Frames delivered (RX) or handed to the device (TX).
    pub packets: Counter,
    /// Bytes in those frames, without virtio-net headers or descriptors.
    pub bytes: Counter,
    /// Frames dropped without an error on the device's side (no buffer, ring full, ...).
    pub drops: Counter,
    /// Device misbehaviour: bad ids, bad lengths, error bits; the frame was dropped.
    pub errors: Counter,
    /// Doorbell (notify / tail) writes: one per burst, not one per packet.
    pub doorbells: Counter,
}

impl QueueCounters {
    /// All zero.
    pub const fn new() -> Self {
        Self {
            packets: Counter::new(),
            bytes: Counter::new(),
            drops: Counter::new(),
            errors: Counter::new(),
            doorbells: Counter::new(),
        }
    }

    /// A plain copy of the current values.
    pub fn snapshot(&self) -> CounterSnapshot {
        CounterSnapshot {
            packets: self.packets.get(),
            bytes: self.bytes.get(),
            drops: self.drops.get(),
            errors: self.errors.get(),
            doorbells: self.doorbells.get(),
        }
    }
}

/// Values of a [`QueueCounters`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CounterSnapshot {
    /// See [`QueueCounters::packets`].
    pub packets: u64,
    /// See [`QueueCounters::bytes`].
    pub bytes: u64,
    /// See [`QueueCounters::drops`].
    pub drops: u64,
    /// See [`QueueCounters::errors`].
    pub errors: u64,
    /// See [`QueueCounters::doorbells`].
    pub doorbells: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_snapshots() {
        let c = QueueCounters::new();
        c.packets.inc();
        c.bytes.add(60);
        c.packets.inc();
        let s = c.snapshot();
        assert_eq!(s.packets, 2);
        assert_eq!(s.bytes, 60);
        assert_eq!(core::mem::align_of::<QueueCounters>(), 64);
    }
}
