//! Per-core, shared-nothing TCP/IP for corenet, on smoltcp, with RSS-aware flows.
//!
//! A tour, from the wire up:
//!
//! - [`rss_ports`]: Toeplitz is linear over GF(2); [`rss_ports::PortSolver`] uses that to list
//!   exactly the local ports whose replies the NIC steers back to a given queue.
//! - [`ports`]: the per-core ephemeral port allocator built on it (no collisions, no reuse
//!   before TIME-WAIT ends).
//! - [`device`]: a smoltcp `phy::Device` over one core's RX/TX queue pair, zero-copy tokens,
//!   burst harvesting, one doorbell per poll.
//! - [`sim`]: an in-memory multi-queue NIC that steers by Toeplitz like a real one, plus a
//!   peer host device, for host tests and benchmarks.
//! - [`stack`]: one core's stack: an `Interface` over the [`device`], sockets bucketed by flow
//!   for O(1) dispatch, a listen backlog, a connection limit, a budgeted poll loop, and the
//!   safe TCP/UDP API (no smoltcp types in it).
//! - [`arp`]: ARP frames copied from the receiving core to all others over SPSC rings.
//! - [`counters`]: per-core counters, single writer, readable from any core.
//!
//! `net/` knows no hardware and no kernel: randomness (seeds) and time (monotonic
//! microseconds) are parameters, the NIC is a pair of `corenet_nic` queue traits.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod arp;
pub mod counters;
pub mod device;
pub mod ports;
pub mod rss_ports;
pub mod sim;
pub mod stack;

pub use stack::{CoreStack, StackConfig};
