//! corenet: the one crate an appliance depends on.
//!
//! An appliance is a `no_std`, `no_main` binary for `x86_64-unknown-none` that implements
//! [`Appliance`] and names it with [`appliance!`]. corenet boots on every core, gives each core
//! a [`Core`] (id, clock, DMA memory, seeds), calls `init` everywhere, prints the ready line and
//! runs `poll` on every core in a run-to-completion loop:
//!
//! ```ignore
//! #![no_std]
//! #![no_main]
//! use corenet::{Appliance, Core, Step};
//!
//! struct Hello { passes: u64 }
//!
//! impl Appliance for Hello {
//!     const NAME: &'static str = "hello";
//!     fn init(core: &mut Core) -> Self {
//!         corenet::log::info!("hello from core {} of {}", core.id(), core.count());
//!         Hello { passes: 0 }
//!     }
//!     fn poll(&mut self, _core: &mut Core) -> Step {
//!         self.passes += 1;
//!         Step::Idle
//!     }
//! }
//!
//! corenet::appliance!(Hello);
//! ```
//!
//! The layers underneath, each its own crate: [`kernel`] (boot, memory, CPUs, clock),
//! [`nic`] (the per-core queue interface and RSS steering), [`virtio`] and [`ixgbe`] (the
//! drivers), [`net`] (per-core TCP/IP). [`budget`] splits each core's heap between TCP
//! sockets, the appliance's per-connection state and its buffer pool, which sizes the
//! connection limit. The runtime is only built for the guest target; on the host this crate
//! re-exports the logic crates for tests and tools.
#![no_std]

pub use corenet_boot as boot;
pub use corenet_ixgbe as ixgbe;
pub use corenet_kernel as kernel;
pub use corenet_net as net;
pub use corenet_nic as nic;
pub use corenet_virtio as virtio;
pub use log;

#[cfg(target_os = "none")]
pub use corenet_kernel::exit::{code as exit_code, exit};
pub mod budget;
#[cfg(target_os = "none")]
pub mod netdev;
#[cfg(target_os = "none")]
pub mod network;

#[cfg(target_os = "none")]
pub use corenet_kernel::{Appliance, Core, Step, appliance, println};
