//! The one place where corenet's drivers and its network stack meet.
//!
//! A tour, in the order a packet sees it:
//!
//! - [`steering`]: the RSS configuration (Toeplitz key and indirection table) that a driver
//!   programs into the NIC and that the stack uses to *predict* which queue, and so which core,
//!   a flow lands on. One source of truth: both sides call [`steering::RssConfig`].
//! - [`queue`]: the per-core queue pair. A driver exposes an [`queue::RxQueue`] and a
//!   [`queue::TxQueue`] per core; the stack drives them with bursts, reading received frames in
//!   place and building transmitted frames directly in device buffers (zero-copy).
//! - [`counters`]: per-queue counters written only by the owning core and readable from any
//!   core without locks (single-writer relaxed atomics, one cache line per queue side).
//! - [`dma`]: the physically contiguous memory a driver asks its platform for.
//!
//! This crate knows no hardware and no protocol; it is pure logic and tests on the host.
#![no_std]
#![forbid(unsafe_code)]

pub mod counters;
pub mod dma;
mod frame_input;
pub mod queue;
pub mod steering;

pub use counters::{Counter, QueueCounters};
pub use dma::{DmaAllocator, DmaRegion};
pub use queue::{Offload, QueuePair, RxFrame, RxQueue, Tso, TxQueue, TxSlot};
pub use steering::{RssConfig, toeplitz};
