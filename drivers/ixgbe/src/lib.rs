//! Polling, multi-queue driver for the Intel 82599 10 GbE controller (and X540/X550, which
//! share what it uses).
//!
//! A tour, from the wire inwards:
//!
//! - [`pci`]: the vendor/device ids this driver serves.
//! - [`mmio`]: [`mmio::RegisterAccess`], the 32-bit read/write trait the driver is generic
//!   over, and its volatile MMIO implementation. [`regs`] names every register and bit as
//!   the datasheet does, with offsets checked at compile time.
//! - [`desc`]: advanced receive/transmit descriptor layouts; [`dma`] is the one module that
//!   touches DMA memory.
//! - [`delay`]: caller-supplied time for bounded waits.
#![no_std]
#![deny(unsafe_code)]

#[cfg(test)]
extern crate std;

pub mod delay;
pub mod desc;
#[allow(unsafe_code, reason = "volatile access to DMA memory; audited module")]
pub mod dma;
#[allow(unsafe_code, reason = "volatile MMIO access to BAR0; audited module")]
pub mod mmio;
pub mod pci;
pub mod regs;

pub use delay::Delay;
pub use mmio::{Mmio, RegisterAccess};
