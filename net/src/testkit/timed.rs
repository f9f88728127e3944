//! The peer's end of a timed path: frames reach the other side when the path says.
//!
//! The long-path tests (a 50 ms round trip, a bottleneck with a bounded queue) share this
//! device and differ only in their [`Path`], the rule for our side's frames.

use alloc::collections::VecDeque;
use alloc::rc::Rc;
use alloc::vec;
use alloc::vec::Vec;
use core::cell::RefCell;

use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

use crate::sim::SimNic;

/// How a simulated path carries the frames our side sends towards the peer.
pub trait Path {
    /// A frame our side sent at `now` (µs): when it reaches the peer, or `None` if the path
    /// drops it. Times returned must not decrease from one frame to the next.
    fn carry(&mut self, now: u64, frame: &[u8]) -> Option<u64>;
}

/// A fixed one-way delay, in microseconds.
pub struct Delay(pub u64);

impl Path for Delay {
    fn carry(&mut self, now: u64, _frame: &[u8]) -> Option<u64> {
        Some(now + self.0)
    }
}

/// Frames on their way, each with the time it arrives.
type Arrivals = Rc<RefCell<VecDeque<(u64, Vec<u8>)>>>;

/// The peer's device on `nic`'s wire: our side's frames cross [`TimedDevice::path`], the
/// peer's reach our side a fixed delay after they leave.
pub struct TimedDevice<P> {
    nic: SimNic,
    /// The path towards the peer (a test reads its counts back from here).
    pub path: P,
    /// One-way delay of the peer's frames towards our side, in microseconds.
    back_us: u64,
    /// Our side's frames, with the time they reach the peer.
    inbound: VecDeque<(u64, Vec<u8>)>,
    /// The peer's frames, with the time they reach our side.
    outbound: Arrivals,
    now: u64,
}

impl<P: Path> TimedDevice<P> {
    /// The peer's end of `nic`'s wire through `path`, its own frames delayed by `back_us`.
    pub fn new(nic: &SimNic, path: P, back_us: u64) -> Self {
        Self {
            nic: nic.clone(),
            path,
            back_us,
            inbound: VecDeque::new(),
            outbound: Rc::default(),
            now: 0,
        }
    }

    fn advance(&mut self, now: u64) {
        self.now = now;
        while let Some(f) = self.nic.take_sent() {
            if let Some(t) = self.path.carry(now, &f) {
                self.inbound.push_back((t, f));
            }
        }
        let mut out = self.outbound.borrow_mut();
        while out.front().is_some_and(|&(t, _)| t <= now) {
            if let Some((_, f)) = out.pop_front() {
                self.nic.deliver(f);
            }
        }
    }

    fn tx(&self) -> TimedTx {
        TimedTx(self.outbound.clone(), self.now + self.back_us)
    }
}

impl<P: Path> Device for TimedDevice<P> {
    type RxToken<'a>
        = TimedRx
    where
        P: 'a;
    type TxToken<'a>
        = TimedTx
    where
        P: 'a;

    fn receive(&mut self, now: Instant) -> Option<(TimedRx, TimedTx)> {
        self.advance(now.total_micros() as u64);
        if self.inbound.front().is_some_and(|&(t, _)| t <= self.now) {
            let (_, f) = self.inbound.pop_front()?;
            return Some((TimedRx(f), self.tx()));
        }
        None
    }

    fn transmit(&mut self, now: Instant) -> Option<TimedTx> {
        self.advance(now.total_micros() as u64);
        Some(self.tx())
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = crate::device::ETHERNET_MTU;
        caps
    }
}

/// A frame from our side, arrived at the peer.
pub struct TimedRx(Vec<u8>);

impl phy::RxToken for TimedRx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

/// Room for a frame from the peer, which arrives at our side at the time it holds.
pub struct TimedTx(Arrivals, u64);

impl phy::TxToken for TimedTx {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut buf = vec![0; len];
        let r = f(&mut buf);
        self.0.borrow_mut().push_back((self.1, buf));
        r
    }
}
