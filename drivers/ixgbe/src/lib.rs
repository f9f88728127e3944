//! Polling, multi-queue driver for the Intel 82599 10 GbE controller (and X540/X550, which
//! share what it uses) and the 82576 1 GbE controller (`igb`, which QEMU 8.0+ emulates), with
//! a register-level 82599 model for host tests. [`family`] holds every difference between
//! the two; [`igb`] the 82576's own init steps.
//!
//! A tour, from the wire inwards:
//!
//! - [`pci`]: the vendor/device ids this driver serves. Enumeration, mapping BAR0 uncached and
//!   enabling bus mastering are the kernel's; it then builds a [`mmio::Mmio`].
//! - [`mmio`]: [`mmio::RegisterAccess`], the 32-bit read/write trait the driver is generic
//!   over, and its volatile MMIO implementation. [`regs`] names every register and bit as
//!   the datasheet does, with offsets checked at compile time.
//! - [`config`]: what to bring up and the typed errors. [`init`]: [`Ixgbe::init`] walks the datasheet's initialization sequence (4.6.3 onwards):
//!   reset, EEPROM and DMA readiness, link, statistics, receive and transmit queues, RSS from
//!   the [`corenet_nic::RssConfig`] the stack also uses. Every wait is bounded by time from a
//!   caller-supplied [`delay::Delay`] and fails with a typed [`InitError`].
//! - [`rx`] / [`tx`]: one [`corenet_nic::RxQueue`] / [`corenet_nic::TxQueue`] per core over
//!   advanced descriptors ([`desc`]) in memory from a [`corenet_nic::DmaAllocator`]; [`dma`]
//!   is the one module that touches that memory; `stack` holds the free-buffer lists;
//!   `csum` turns checksum offload requests into context descriptors.
//! - [`msix`]: one MSI-X vector per receive queue, unmasked only while its core halts.
//! - [`stats`]: the device's clear-on-read statistics registers as 64-bit totals.
//! - `model` (feature `model`, and in tests): a register-level 82599 written from the
//!   datasheet, which the tests and other crates' tests drive the driver against.
#![no_std]
#![deny(unsafe_code)]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod config;
mod csum;
pub mod delay;
pub mod desc;
#[allow(unsafe_code, reason = "volatile access to DMA memory; audited module")]
pub mod dma;
pub mod family;
mod freelist;
pub mod igb;
pub mod init;
#[allow(unsafe_code, reason = "volatile MMIO access to BAR0; audited module")]
pub mod mmio;
#[cfg(any(test, feature = "model"))]
pub mod model;
pub mod msix;
pub mod pci;
pub mod regs;
pub mod rx;
pub mod stats;
pub mod tx;

#[cfg(test)]
mod tests;

pub use config::{Config, ConfigError, InitError, LinkSpeed, LinkStatus};
pub use delay::Delay;
pub use family::Family;
pub use init::{Ixgbe, IxgbePair};
pub use mmio::{Mmio, RegisterAccess};
pub use msix::{ConfigSpace, Message, MsixCap, MsixError};
pub use rx::IxgbeRx;
pub use stats::HwStats;
pub use tx::IxgbeTx;
