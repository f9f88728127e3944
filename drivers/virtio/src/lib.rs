//! A polling, multi-queue, RSS-steered virtio-net driver for corenet.
//!
//! A tour, from the device inwards:
//!
//! - Transports come from [`virtio_drivers`] (`PciTransport`, `MmioTransport`): configuration
//!   only. [`cmdline`] finds virtio-mmio devices on the kernel command line.
//! - [`doorbell`]: each queue's notify address, computed once at setup, so every core rings its
//!   own queues with one volatile store and no shared lock; [`pci`] finds the PCI structures.
//! - `ring`: our split virtqueue (why not virtio-drivers' `VirtQueue`: `docs/virtio.md`).
//! - [`device`]: initialization (3.1.1), feature negotiation ([`features`]), the control queue
//!   ([`ctrl`]: queue pairs, RSS key and table), and the split into per-core [`VirtioPair`]s.
//! - [`VirtioRx`] / [`VirtioTx`]: `corenet_nic::RxQueue` / `TxQueue`, zero-copy bursts, every
//!   device-written id, length and index validated, counted, dropped; `owners` checks every
//!   id and every caller token with one compare. Transmit offloads: checksum (`CSUM`) and
//!   TCP segmentation (`HOST_TSO4`) into 16 large buffers per queue (`big`), the header
//!   built by `txhdr` (`docs/virtio.md`, "Transmit offloads").
//! - [`steer`]: software distribution by Toeplitz hash when the device has a single queue.
//! - [`probe`]: one call from a discovered MMIO or PCI device to its queue pairs.
//! - [`hal`]: virtio-drivers' `Hal` over corenet's identity-mapped DMA memory.
//! - `fake` (feature `fake`): an in-memory device for host tests and the benchmark.
#![no_std]
#![deny(unsafe_code)]

// Per-id tables of the queues (up to 1024 entries each) live on the heap, allocated once at
// bring-up: inline, 16 queue pairs of them overflowed a boot stack. Nothing on the data path
// allocates.
extern crate alloc;

mod big;
mod buffers;
pub mod cmdline;
pub mod ctrl;
pub mod device;
pub mod doorbell;
mod errors;
#[cfg(any(test, feature = "fake"))]
pub mod fake;
pub mod features;
pub mod hal;
pub mod msix;
mod owners;
pub mod pci;
pub mod probe;
mod ring;
mod rx;
pub mod steer;
mod tx;
mod txhdr;

#[cfg(test)]
mod tests;

pub use big::{BIG_BUF_SIZE, TSO_BUFS, TSO_MAX_FRAME};
pub use buffers::BUF_SIZE;
pub use device::{InitError, MAX_PAIRS, NetConfig, QueueDma, Steering, VirtioNet, VirtioPair};
pub use ring::MAX_QUEUE_SIZE;
pub use rx::VirtioRx;
pub use tx::VirtioTx;
pub use virtio_drivers;
