//! Software queue pairs: one hardware queue pair serving every core, steered in software.
//!
//! Some NICs have a single queue pair (QEMU user-mode networking, a virtio-net device without
//! `VIRTIO_NET_F_MQ`, anything without RSS). corenet still runs one stack per core: the core
//! that owns the hardware queue pair runs a [`Distributor`] in its loop, which does in
//! software what an RSS NIC does in hardware, and every core (the distributor's included)
//! gets a [`SoftRx`]/[`SoftTx`] pair implementing the same `corenet_nic` traits as a real
//! queue, so `CoreStack` cannot tell the difference:
//!
//! ```text
//!   hw RX ──rx_burst──> Distributor::pump ──Toeplitz(4-tuple) -> table -> core q──┐
//!                        (copy, release hw buffer)                                │
//!        ┌──────────────── filled ring (Box<frame>) ── core q's SoftRx <──────────┘
//!        └──────────────── free ring  (empty boxes) ── back from SoftRx::rx_burst
//!   hw TX <──submit, one flush── pump drains every core's SoftTx filled ring (round robin)
//!                                 and hands the boxes back on its free ring
//! ```
//!
//! Every ring is a `heapless::spsc` queue with one producer core and one consumer core, so
//! there is no lock and no atomic read-modify-write. Frame buffers are a fixed pool of
//! `depth` boxes per direction per core, allocated once: a box is *moved* through the rings
//! (ownership is the synchronisation: the ring's release/acquire publishes the bytes with
//! the pointer), so the crate keeps `#![forbid(unsafe_code)]`, and nothing is allocated per
//! frame. Each ring's capacity exceeds its pool, so handing a box on never fails; a
//! frame finds no free box only when its core has not drained its receive ring, which is
//! the "ring full" drop a real queue has.
//!
//! # Example
//!
//! A two-core server behind a NIC with one queue pair, and a one-core client, back to back.
//! Core 0 owns the hardware queue pair: its loop pumps it, then runs its own stack.
//!
//! ```
//! use corenet_net::{mesh, sim::SimNic, soft, CoreStack, StackConfig};
//! use corenet_nic::steering::RssConfig;
//!
//! let rss = RssConfig::new(2).unwrap(); // steering in software, over 2 cores
//! let server_nic = SimNic::new(RssConfig::new(1).unwrap(), 1024); // one queue pair
//! let (mut hw_rx, mut hw_tx) = server_nic.queue_pair(0);
//! let (mut distributor, pairs) = soft::soft_queues(&rss, 128).unwrap();
//! let mut mesh = mesh::mesh(2).into_iter();
//! let mut cores: Vec<_> = pairs
//!     .into_iter()
//!     .enumerate()
//!     .map(|(q, (rx, tx))| {
//!         let cfg = StackConfig::new([2, 0, 0, 0, 0, 2], [10, 0, 0, 2], 24, 42 + q as u64);
//!         CoreStack::new(cfg, &rss, rx, tx, mesh.next(), 0).unwrap()
//!     })
//!     .collect();
//! for core in &mut cores {
//!     core.listen(80).unwrap();
//! }
//!
//! let one = RssConfig::new(1).unwrap();
//! let client_nic = SimNic::new(one.clone(), 1024);
//! let (rx, tx) = client_nic.queue_pair(0);
//! let cfg = StackConfig::new([2, 0, 0, 0, 0, 1], [10, 0, 0, 1], 24, 7);
//! let mut client = CoreStack::new(cfg, &one, rx, tx, None, 0).unwrap();
//! let conns: Vec<_> = (0..8).map(|_| client.connect(([10, 0, 0, 2], 80)).unwrap()).collect();
//!
//! let mut now_us = 0;
//! for _ in 0..50 {
//!     now_us += 1000;
//!     client.poll(now_us);
//!     while let Some(frame) = client_nic.take_sent() {
//!         server_nic.deliver(frame);
//!     }
//!     distributor.pump(&mut hw_rx, &mut hw_tx, 64); // core 0 only
//!     for core in &mut cores {
//!         core.poll(now_us);
//!         while let Ok(c) = core.accept(80) {
//!             core.send(c, b"hi").unwrap();
//!         }
//!     }
//!     distributor.pump(&mut hw_rx, &mut hw_tx, 64);
//!     while let Some(frame) = server_nic.take_sent() {
//!         client_nic.deliver(frame);
//!     }
//! }
//! let mut buf = [0u8; 4];
//! for conn in conns {
//!     assert_eq!(client.recv(conn, &mut buf), Ok(2));
//! }
//! // The connections were spread over both cores by the software RSS.
//! assert!(cores.iter().all(|c| c.counters().accepted.get() > 0));
//! ```

mod distributor;
mod rx;
mod steer;
mod tx;

pub use distributor::{Distributor, DistributorCounters, PumpReport};
pub use rx::SoftRx;
pub use steer::SteerTable;
pub use tx::SoftTx;

use alloc::boxed::Box;
use alloc::vec::Vec;

use corenet_nic::Counter;
use corenet_nic::steering::RssConfig;
use heapless::spsc::Queue;

/// Largest frame a soft queue carries: 1514 bytes of Ethernet frame without FCS, plus one
/// 802.1Q tag.
pub const FRAME_MAX: usize = 1514 + 4;

/// Slots of every ring (`heapless` keeps one empty, so a ring holds `RING_SLOTS - 1`).
pub const RING_SLOTS: usize = 1024;

/// Largest `depth` [`soft_queues`] accepts: each ring must hold its whole pool.
pub const MAX_DEPTH: usize = RING_SLOTS - 1;

/// A frame buffer of the pool.
pub(crate) type Buf = Box<[u8; FRAME_MAX]>;

/// A received frame on its way to a core.
pub(crate) struct Filled {
    pub buf: Buf,
    pub len: u16,
    pub rss_hash: Option<u32>,
    pub csum_ok: bool,
}

/// A frame a core transmits, on its way to the hardware queue.
pub(crate) struct Outgoing {
    pub buf: Buf,
    pub len: u16,
}

/// Counters one core's pair shares with the distributor: written by the distributor only,
/// read by the core. On a line of its own, so no other data shares it.
#[derive(Debug, Default)]
#[repr(align(64))]
pub(crate) struct Shared {
    /// Frames for this core dropped because its receive ring had no free buffer.
    pub rx_ring_full: Counter,
}

/// Errors from [`soft_queues`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SoftQueuesError {
    /// `depth` is 0 or over [`MAX_DEPTH`].
    BadDepth(usize),
    /// The indirection table names a queue at or past `rss.queues`.
    BadTable(u16),
}

/// One core's software queue pair.
pub type SoftPair = (SoftRx, SoftTx);

fn leak<T>(q: Box<Queue<T, RING_SLOTS>>) -> &'static mut Queue<T, RING_SLOTS> {
    Box::leak(q)
}

fn new_buf() -> Buf {
    Box::new([0; FRAME_MAX])
}

/// Builds a software queue pair for each of the `rss.queues` cores and the [`Distributor`]
/// that feeds them, steering by `rss` exactly as an RSS NIC would. Element `i` of the vector
/// goes to core `i` (its `queue_index` is `i`); each ring direction of each core gets `depth`
/// frame buffers.
///
/// The rings live for the rest of the program (leaked once at start-up, like
/// [`crate::mesh::mesh`]), which lets every end move to its core on its own.
pub fn soft_queues(
    rss: &RssConfig,
    depth: usize,
) -> Result<(Distributor, Vec<SoftPair>), SoftQueuesError> {
    if depth == 0 || depth > MAX_DEPTH {
        return Err(SoftQueuesError::BadDepth(depth));
    }
    if let Some(&bad) = rss.table.iter().find(|&&q| q >= rss.queues) {
        return Err(SoftQueuesError::BadTable(bad));
    }
    let mut ports = Vec::with_capacity(usize::from(rss.queues));
    let mut pairs = Vec::with_capacity(usize::from(rss.queues));
    for core in 0..rss.queues {
        let shared: &'static Shared = Box::leak(Box::default());
        let (rx_to, rx_from) = leak(Box::new(Queue::new())).split();
        let (mut rx_free_p, rx_free_c) = leak(Box::new(Queue::new())).split();
        let (tx_to, tx_from) = leak(Box::new(Queue::new())).split();
        let (mut tx_free_p, tx_free_c) = leak(Box::new(Queue::new())).split();
        for _ in 0..depth {
            // Cannot fail: depth <= MAX_DEPTH, the ring's capacity.
            let _ = rx_free_p.enqueue(new_buf());
            let _ = tx_free_p.enqueue(new_buf());
        }
        ports.push(distributor::CorePort::new(
            rx_to, rx_free_c, tx_from, tx_free_p, shared, depth,
        ));
        pairs.push((
            SoftRx::new(core, rx_from, rx_free_p, shared, depth),
            SoftTx::new(core, tx_to, tx_free_c, depth),
        ));
    }
    Ok((Distributor::new(rss, ports), pairs))
}

#[cfg(test)]
mod fake_hw;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_stack;
#[cfg(test)]
mod tests_threads;
#[cfg(test)]
mod tests_threads_stack;
