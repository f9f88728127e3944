//! The TCP proxy appliance's logic, host-testable: the guest binary (`main.rs`) is glue.
//!
//! - [`config`]: `listen=`, `backends=` and `admin=` from the kernel command line.
//! - [`pipe`]: one client <-> backend relay with bounded buffers, back-pressure, half-close
//!   and reset propagation, over any core's [`corenet::prelude::Sockets`].
//! - [`pipes`]: a core's pipes, pumped when the stack reports news for one of their
//!   connections (plus a paced sweep), not all of them every pass.
//! - [`stats`]: the per-core counters the appliance prints.
//!
//! Every core accepts on the listen port; for each client it opens the backend connection
//! from the same core with `CoreStack::connect`, whose local port is computed so the NIC's
//! RSS steers the backend's replies back to this core. The stack's `wrong_core` counter
//! proves it: it stays 0.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod config;
pub mod pipe;
pub mod pipes;
pub mod stats;
#[cfg(any(test, feature = "testbed"))]
pub mod testbed;

#[cfg(test)]
mod tests;
