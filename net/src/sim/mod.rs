//! An in-memory multi-queue NIC with Toeplitz steering, for host tests and benchmarks.
//!
//! [`SimNic`] behaves like an RSS NIC seen from both ends: frames coming from the wire
//! ([`SimNic::deliver`]) are hashed with the configured [`RssConfig`] and queued on the RX
//! queue the indirection table names (non-IP frames such as ARP on queue 0, as the 82599 and
//! virtio-net do); frames any core transmits are collected for the other end of the wire.
//! Each core gets a [`SimRxQueue`]/[`SimTxQueue`] pair implementing `corenet_nic`'s traits.
//! [`PeerDevice`] is a plain smoltcp device for "the other host". Optional seeded faults
//! (loss, corruption, reordering) apply in both directions.
//!
//! Single-threaded by design (`Rc<RefCell<_>>`): host tests run all cores in one thread.

mod offload;
mod peer;
mod queues;

pub use offload::{SimOffload, TSO_MAX_FRAME, TsoStats};
pub use peer::{PeerDevice, PeerRxToken, PeerTxToken};
pub use queues::{SimRxQueue, SimTxQueue};

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::rc::Rc;
use alloc::vec;
use alloc::vec::Vec;
use core::cell::RefCell;

use corenet_nic::steering::{RssConfig, frame_input};

/// Buffers per simulated RX or TX ring.
pub const RING: usize = 256;
pub(crate) const BUF_LEN: usize = 2048;

/// The queue an RSS NIC steers `frame` to: TCP/UDP over IPv4 by the 4-tuple, other IPv4 by
/// the addresses, fragments by the addresses; IPv6 TCP/UDP (right after the fixed header) by
/// the 4-tuple, other IPv6 by the addresses; anything else to queue 0. One 802.1Q tag is
/// looked through. The frame is parsed by [`corenet_nic::steering::frame_input`].
pub fn steer(rss: &RssConfig, frame: &[u8]) -> u16 {
    // The bitwise Toeplitz hash, not the software queues' byte tables: tests compare the two.
    frame_input(frame).map_or(0, |input| {
        rss.queue_for_hash(corenet_nic::toeplitz(&rss.key, input.bytes()))
    })
}

/// Seeded fault injection, per mille, applied to every frame in both directions.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    /// Frames dropped.
    pub loss: u16,
    /// Frames with one byte flipped (past the Ethernet header, so checksums must catch it).
    pub corrupt: u16,
    /// Frames held back and sent after the next one.
    pub reorder: u16,
    /// PRNG seed.
    pub seed: u64,
}

/// What the wire did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WireStats {
    /// Frames steered to each RX queue.
    pub steered: Vec<u64>,
    /// Frames dropped because an RX queue's backlog was full.
    pub overflow: u64,
    /// Frames dropped because they do not fit a receive buffer (as a NIC drops them).
    pub oversize: u64,
    /// Frames dropped, corrupted, reordered by [`Faults`].
    pub lost: u64,
    /// See `lost`.
    pub corrupted: u64,
    /// See `lost`.
    pub reordered: u64,
}

pub(crate) struct Wire {
    rss: RssConfig,
    to_host: Vec<VecDeque<Vec<u8>>>,
    to_peer: VecDeque<Vec<u8>>,
    depth: usize,
    faults: Option<Faults>,
    rng: u64,
    held_to_host: Option<Vec<u8>>,
    held_to_peer: Option<Vec<u8>>,
    stats: WireStats,
    /// Decides, frame by frame, which frames the host sends are lost (see
    /// [`SimNic::set_tx_filter`]).
    tx_filter: Option<TxFilter>,
    /// Transmit offloads the queues offer, and what they were asked to segment.
    offload: SimOffload,
    tso: TsoStats,
}

/// A test's choice of which host frames to drop: returns true to drop.
pub type TxFilter = Box<dyn FnMut(&[u8]) -> bool>;

impl Wire {
    fn roll(&mut self, per_mille: u16) -> bool {
        if per_mille == 0 {
            return false;
        }
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng % 1000) < u64::from(per_mille)
    }

    /// Applies faults; returns the frames to pass on now (0, 1 or 2).
    fn fault(&mut self, mut frame: Vec<u8>, to_host: bool) -> heapless::Vec<Vec<u8>, 2> {
        let mut out = heapless::Vec::new();
        let Some(f) = self.faults else {
            let _ = out.push(frame);
            return out;
        };
        if self.roll(f.loss) {
            self.stats.lost += 1;
            return out;
        }
        if frame.len() > 14 && self.roll(f.corrupt) {
            let at = 14 + (self.rng as usize >> 16) % (frame.len() - 14);
            frame[at] ^= 1 << (self.rng % 8);
            self.stats.corrupted += 1;
        }
        let reorder = self.roll(f.reorder);
        let held = if to_host {
            &mut self.held_to_host
        } else {
            &mut self.held_to_peer
        };
        if reorder && held.is_none() {
            *held = Some(frame);
            self.stats.reordered += 1;
            return out;
        }
        let _ = out.push(frame);
        if let Some(h) = held.take() {
            let _ = out.push(h);
        }
        out
    }

    /// A frame the host sent: the test's filter, then the seeded faults.
    fn sent_by_host(&mut self, frame: Vec<u8>) {
        if let Some(f) = self.tx_filter.as_mut()
            && f(&frame)
        {
            self.stats.lost += 1;
            return;
        }
        for f in self.fault(frame, false) {
            self.to_peer.push_back(f);
        }
    }

    fn enqueue_host(&mut self, frame: Vec<u8>) {
        if frame.len() > BUF_LEN {
            self.stats.oversize += 1;
            return;
        }
        let q = usize::from(steer(&self.rss, &frame));
        let Some(queue) = self.to_host.get_mut(q) else {
            self.stats.overflow += 1;
            return;
        };
        if queue.len() >= self.depth {
            self.stats.overflow += 1;
            return;
        }
        queue.push_back(frame);
        self.stats.steered[q] += 1;
    }
}

/// The simulated NIC; clones share the same wire.
#[derive(Clone)]
pub struct SimNic {
    wire: Rc<RefCell<Wire>>,
}

impl SimNic {
    /// A NIC with `rss.queues` queues, each RX backlog holding at most `depth` frames.
    pub fn new(rss: RssConfig, depth: usize) -> Self {
        let n = usize::from(rss.queues);
        Self {
            wire: Rc::new(RefCell::new(Wire {
                rss,
                to_host: (0..n).map(|_| VecDeque::new()).collect(),
                to_peer: VecDeque::new(),
                depth,
                faults: None,
                rng: 1,
                held_to_host: None,
                held_to_peer: None,
                tx_filter: None,
                offload: SimOffload::default(),
                tso: TsoStats::default(),
                stats: WireStats {
                    steered: vec![0; n],
                    ..WireStats::default()
                },
            })),
        }
    }

    /// Turns on fault injection.
    pub fn set_faults(&self, faults: Faults) {
        let mut w = self.wire.borrow_mut();
        w.rng = faults.seed | 1;
        w.faults = Some(faults);
    }

    /// Drops the frames the host sends for which `filter` returns true (counted as `lost`),
    /// before any seeded [`Faults`] apply: lets a test lose exactly the segments it names.
    pub fn set_tx_filter(&self, filter: TxFilter) {
        self.wire.borrow_mut().tx_filter = Some(filter);
    }

    /// Makes the TX queues offer `offload` (before the stacks are built: each reads it once).
    pub fn set_offload(&self, offload: SimOffload) {
        self.wire.borrow_mut().offload = offload;
    }

    /// What the TX queues were asked to segment so far.
    pub fn tso_stats(&self) -> TsoStats {
        self.wire.borrow().tso
    }

    /// The queue pair of queue `q`.
    pub fn queue_pair(&self, q: u16) -> (SimRxQueue, SimTxQueue) {
        (
            SimRxQueue::new(self.wire.clone(), q),
            SimTxQueue::new(self.wire.clone(), q),
        )
    }

    /// A frame arrives from the wire: steer it to its RX queue.
    pub fn deliver(&self, frame: Vec<u8>) {
        let mut w = self.wire.borrow_mut();
        for f in w.fault(frame, true) {
            w.enqueue_host(f);
        }
    }

    /// The next frame the host's cores sent, if any.
    pub fn take_sent(&self) -> Option<Vec<u8>> {
        self.wire.borrow_mut().to_peer.pop_front()
    }

    /// Frames waiting on RX queue `q`.
    pub fn backlog(&self, q: u16) -> usize {
        self.wire
            .borrow()
            .to_host
            .get(usize::from(q))
            .map_or(0, VecDeque::len)
    }

    /// What the wire did so far.
    pub fn stats(&self) -> WireStats {
        self.wire.borrow().stats.clone()
    }

    /// The other end of the wire as a plain smoltcp device.
    pub fn peer_device(&self) -> PeerDevice {
        PeerDevice::new(self.clone())
    }
}
