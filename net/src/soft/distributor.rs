//! The distributor: RSS in software on the core that owns the single hardware queue pair.

use alloc::vec::Vec;

use corenet_nic::steering::RssConfig;
use corenet_nic::{Counter, Offload, RxFrame, RxQueue, TxQueue};
use heapless::spsc::{Consumer, Producer};

use super::{Buf, FRAME_MAX, Filled, Outgoing, Shared, SteerTable};

/// Frames taken from the hardware RX queue per `rx_burst`.
const BURST: usize = 32;

/// The distributor's ends of one core's rings.
pub(crate) struct CorePort {
    rx_to: Producer<'static, Filled>,
    rx_free: Consumer<'static, Buf>,
    /// Free receive buffers already taken from `rx_free` (refilled in batches, so the ring's
    /// indices are touched once per batch rather than once per frame).
    stash: Vec<Buf>,
    tx_from: Consumer<'static, Outgoing>,
    tx_free: Producer<'static, Buf>,
    shared: &'static Shared,
}

impl CorePort {
    pub(super) fn new(
        rx_to: Producer<'static, Filled>,
        rx_free: Consumer<'static, Buf>,
        tx_from: Consumer<'static, Outgoing>,
        tx_free: Producer<'static, Buf>,
        shared: &'static Shared,
        depth: usize,
    ) -> Self {
        Self {
            rx_to,
            rx_free,
            stash: Vec::with_capacity(depth),
            tx_from,
            tx_free,
            shared,
        }
    }

    /// Moves the buffers the core has handed back into the stash (never past its capacity:
    /// the core's whole pool fits).
    fn refill(&mut self) {
        while let Some(b) = self.rx_free.dequeue() {
            self.stash.push(b);
        }
    }

    /// Free receive buffers, refilling the stash from the ring only when it is low (so a
    /// core with buffers to spare costs a length read).
    fn free(&mut self) -> usize {
        if self.stash.len() < BURST {
            self.refill();
        }
        self.stash.len()
    }

    fn take_buf(&mut self) -> Option<Buf> {
        if self.stash.is_empty() {
            self.refill();
        }
        self.stash.pop()
    }
}

/// What the distributor did since it was built. Single writer (the distributor's core),
/// readable from any core.
#[derive(Debug, Default)]
#[repr(align(64))]
pub struct DistributorCounters {
    /// Frames taken from the hardware RX queue.
    pub rx_frames: Counter,
    /// Frames copied into a core's receive ring.
    pub rx_delivered: Counter,
    /// Frames dropped because the target core's receive ring had no free buffer (the core
    /// is not keeping up); also counted per core in its `SoftRx` `drops`.
    pub drop_ring_full: Counter,
    /// Received frames longer than [`FRAME_MAX`](super::FRAME_MAX), dropped.
    pub drop_too_large: Counter,
    /// Received frames RSS does not hash (ARP, non-IPv4), sent to queue 0.
    pub rx_unhashed: Counter,
    /// Frames handed to the hardware TX queue.
    pub tx_frames: Counter,
    /// Frames a core sent that do not fit the hardware TX buffer, dropped.
    pub tx_too_large: Counter,
    /// Pumps that found the hardware TX queue without a free buffer; the frames stay in
    /// their cores' rings (back-pressure, not a drop) and go at a later pump.
    pub tx_no_buffer: Counter,
    /// Buffers that could not be handed back to a core (impossible by construction: every
    /// ring holds its whole pool); the pool shrank by one.
    pub lost_buffers: Counter,
    /// Pumps that left received frames in the hardware queue because a core had no free
    /// receive buffer ([`Distributor::set_hold`]): back-pressure, not a drop.
    pub rx_held: Counter,
    /// Holds not begun because a core's ring filled again right after the last one ended:
    /// it was running but overloaded, and frames for it were dropped for 100 ms instead.
    pub rx_hold_overloaded: Counter,
}

/// What one [`Distributor::pump`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PumpReport {
    /// Frames taken from the hardware RX queue.
    pub rx_frames: usize,
    /// Of those, frames delivered to a core.
    pub rx_delivered: usize,
    /// Of those, frames dropped (ring full or too large).
    pub rx_dropped: usize,
    /// Frames handed to the hardware TX queue.
    pub tx_frames: usize,
    /// Frames dropped on the way out (too large for the hardware buffer).
    pub tx_dropped: usize,
    /// The hardware TX queue ran out of buffers; frames are waiting in the cores' rings.
    pub tx_blocked: bool,
    /// Received frames were left in the hardware RX queue: a core had no free buffer
    /// ([`Distributor::set_hold`]).
    pub rx_held: bool,
}

/// Feeds every core's [`SoftRx`](super::SoftRx) from one hardware RX queue and drains every
/// core's [`SoftTx`](super::SoftTx) into one hardware TX queue. Runs on the core that owns
/// the hardware queue pair, inside its loop.
pub struct Distributor {
    steering: SteerTable,
    cores: Vec<CorePort>,
    /// The core whose TX ring is drained first at the next pump (round robin, so one busy
    /// core cannot starve the others when the budget or the hardware ring runs out).
    next_tx: usize,
    burst: [RxFrame; BURST],
    counters: DistributorCounters,
    /// Wakes a core frames were delivered to.
    wake: crate::WakeFn,
    /// Cores delivered to in the current pump (bit per core; cores beyond 63 share bit 63
    /// and are all woken).
    delivered: u64,
    /// How long received frames may wait in the hardware queue for a core's free buffers
    /// (0: never, a frame for a full core is dropped at once), and the clock it is read on.
    hold_ns: u64,
    clock: fn() -> u64,
    /// When the current hold began.
    held_since: Option<u64>,
    /// When the last hold ended because the full core freed buffers (0: never).
    hold_ended: Option<u64>,
    /// No hold before this time: the full core was running, just overloaded.
    no_hold_until: u64,
}

/// A core whose ring fills again within this time of the end of a hold is running but cannot
/// keep up (a flood steered to it, say): holding would pace every core's frames to its rate,
/// and let the device drop them indiscriminately. Frames for it are then dropped, as without
/// a hold, for `OVERLOAD_NS`.
const REHOLD_NS: u64 = 1_000_000;
const OVERLOAD_NS: u64 = 100_000_000;

fn no_clock() -> u64 {
    0
}

impl Distributor {
    pub(super) fn new(rss: &RssConfig, cores: Vec<CorePort>) -> Self {
        Self {
            steering: SteerTable::new(rss),
            cores,
            next_tx: 0,
            burst: [RxFrame::default(); BURST],
            counters: DistributorCounters::default(),
            wake: crate::no_wake,
            delivered: 0,
            hold_ns: 0,
            clock: no_clock,
            held_since: None,
            hold_ended: None,
            no_hold_until: 0,
        }
    }

    /// Lets received frames wait in the hardware queue, for up to `hold_ns` by `clock`
    /// (nanoseconds), while a core has no free receive buffer, instead of dropping those for
    /// it: the distributor then takes at most as many frames as every core has buffers for.
    /// A core the host deschedules for a few milliseconds meets a burst of several receive
    /// windows when it runs again; held in the hardware queue, the burst pushes back on the
    /// sender where the device can (QEMU's user-mode and passt back-ends stop reading their
    /// socket, a tap queues up to its length), where dropped it costs every flow a loss (and
    /// passt, Debian 12's, recovers from neither a lost SYN nor a lost ACK). The price is
    /// head-of-line blocking: the other cores' frames wait too, for `hold_ns` at most, after
    /// which frames for the full core are dropped as without a hold until it frees a buffer.
    /// A core whose ring fills again within 1 ms of the end of a hold is running but
    /// overloaded (a flood steered to it): holding would pace every core to its rate, so
    /// frames for it are dropped instead, for 100 ms (`rx_hold_overloaded`).
    pub fn set_hold(&mut self, hold_ns: u64, clock: fn() -> u64) {
        self.hold_ns = hold_ns;
        self.clock = clock;
        self.held_since = None;
        self.hold_ended = None;
        self.no_hold_until = 0;
    }

    /// How many frames the next burst may take: `want`, or with a hold fewer (every core
    /// must have a buffer for each), 0 while holding.
    fn room(&mut self, want: usize) -> usize {
        if self.hold_ns == 0 {
            return want;
        }
        let room = self
            .cores
            .iter_mut()
            .map(CorePort::free)
            .min()
            .unwrap_or(0)
            .min(want);
        if room > 0 {
            if self.held_since.take().is_some() {
                self.hold_ended = Some((self.clock)());
            }
            return room;
        }
        let now = (self.clock)();
        if now < self.no_hold_until {
            return want;
        }
        let since = match self.held_since {
            Some(since) => since,
            None => {
                if self
                    .hold_ended
                    .is_some_and(|end| now.saturating_sub(end) < REHOLD_NS)
                {
                    // Full again right after a hold: running, overloaded.
                    self.no_hold_until = now.saturating_add(OVERLOAD_NS);
                    self.counters.rx_hold_overloaded.inc();
                    return want;
                }
                *self.held_since.insert(now)
            }
        };
        if now.saturating_sub(since) < self.hold_ns {
            self.counters.rx_held.inc();
            0
        } else {
            // Held long enough: drop for the full core, as without a hold.
            want
        }
    }

    /// Sets how a core frames were delivered to is woken (once per pump, after delivery).
    pub fn set_wake(&mut self, wake: crate::WakeFn) {
        self.wake = wake;
    }

    /// Cores fed.
    pub fn cores(&self) -> usize {
        self.cores.len()
    }

    /// Cumulative counters.
    pub fn counters(&self) -> &DistributorCounters {
        &self.counters
    }

    /// Frames dropped so far because core `core`'s receive ring was full.
    pub fn ring_full(&self, core: usize) -> u64 {
        self.cores
            .get(core)
            .map_or(0, |p| p.shared.rx_ring_full.get())
    }

    /// One round: takes up to `budget` frames from `hw_rx`, copies each into the receive
    /// ring of the core RSS names and releases the hardware buffer; then moves up to
    /// `budget` frames from the cores' transmit rings into `hw_tx`, with one flush.
    pub fn pump<R: RxQueue, T: TxQueue>(
        &mut self,
        hw_rx: &mut R,
        hw_tx: &mut T,
        budget: usize,
    ) -> PumpReport {
        let mut report = PumpReport::default();
        self.receive(hw_rx, budget, &mut report);
        if self.delivered != 0 {
            for core in 0..self.cores.len() {
                if self.delivered & (1 << core.min(63)) != 0 {
                    (self.wake)(core);
                }
            }
            self.delivered = 0;
        }
        self.transmit(hw_tx, budget, &mut report);
        report
    }

    fn receive<R: RxQueue>(&mut self, hw_rx: &mut R, budget: usize, report: &mut PumpReport) {
        while report.rx_frames < budget {
            let want = self.room((budget - report.rx_frames).min(BURST));
            if want == 0 {
                report.rx_held = true;
                break;
            }
            let n = hw_rx.rx_burst(&mut self.burst[..want]).min(want);
            for i in 0..n {
                let frame = self.burst[i];
                if self.deliver(hw_rx.frame(&frame), frame.csum_ok) {
                    report.rx_delivered += 1;
                } else {
                    report.rx_dropped += 1;
                }
                hw_rx.release(frame);
            }
            report.rx_frames += n;
            if n < want {
                break;
            }
        }
    }

    /// Copies one received frame to its core; false when it was dropped.
    fn deliver(&mut self, bytes: &[u8], csum_ok: bool) -> bool {
        self.counters.rx_frames.inc();
        let len = bytes.len();
        if len > FRAME_MAX {
            self.counters.drop_too_large.inc();
            return false;
        }
        let (queue, rss_hash) = self.steering.classify(bytes);
        if rss_hash.is_none() {
            self.counters.rx_unhashed.inc();
        }
        // The table was checked against the core count at construction; queue 0 otherwise
        // (a compare, not a division, on the per-frame path).
        let core = usize::from(queue);
        let core = if core < self.cores.len() { core } else { 0 };
        let Some(port) = self.cores.get_mut(core) else {
            return false;
        };
        let Some(mut buf) = port.take_buf() else {
            port.shared.rx_ring_full.inc();
            self.counters.drop_ring_full.inc();
            return false;
        };
        buf[..len].copy_from_slice(bytes);
        let filled = Filled {
            buf,
            len: len as u16,
            rss_hash,
            csum_ok,
        };
        match port.rx_to.enqueue(filled) {
            Ok(()) => {
                self.counters.rx_delivered.inc();
                self.delivered |= 1 << core.min(63);
                true
            }
            Err(back) => {
                // Cannot happen (the ring holds the whole pool); treated as ring full.
                port.stash.push(back.buf);
                port.shared.rx_ring_full.inc();
                self.counters.drop_ring_full.inc();
                false
            }
        }
    }

    fn transmit<T: TxQueue>(&mut self, hw_tx: &mut T, budget: usize, report: &mut PumpReport) {
        let n = self.cores.len();
        let mut moved = 0;
        'cores: for k in 0..n {
            let port = &mut self.cores[(self.next_tx + k) % n];
            while moved < budget {
                let Some(out) = port.tx_from.peek() else {
                    break;
                };
                let len = usize::from(out.len);
                let Some(slot) = hw_tx.alloc() else {
                    // Leave the frame where it is: the core sees back-pressure through its
                    // own full ring instead of a silent loss.
                    self.counters.tx_no_buffer.inc();
                    report.tx_blocked = true;
                    break 'cores;
                };
                let dst = hw_tx.buffer(&slot);
                match (dst.get_mut(..len), out.buf.get(..len)) {
                    (Some(dst), Some(src)) => {
                        dst.copy_from_slice(src);
                        hw_tx.submit(slot, len, Offload::default());
                        self.counters.tx_frames.inc();
                        report.tx_frames += 1;
                    }
                    _ => {
                        hw_tx.cancel(slot);
                        self.counters.tx_too_large.inc();
                        report.tx_dropped += 1;
                    }
                }
                moved += 1;
                if let Some(out) = port.tx_from.dequeue()
                    && port.tx_free.enqueue(out.buf).is_err()
                {
                    self.counters.lost_buffers.inc();
                }
            }
        }
        if n > 0 {
            self.next_tx = (self.next_tx + 1) % n;
        }
        if report.tx_frames > 0 {
            hw_tx.flush();
        }
    }
}
