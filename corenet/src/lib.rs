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
//! An appliance that serves the network starts a [`network::Network`] in `init` and runs
//! one [`pass`](network::Network::pass) per `poll`: receive, then the appliance acts on its
//! [`Sockets`](prelude::Sockets), then transmit, so a reply leaves in the pass that made it.
//! Connections are owned [`Conn`](prelude::Conn) handles: dropping one closes it.
//! [`prelude`] holds all of that; `use corenet::prelude::*;` is the one import an appliance
//! needs (see `apps/echo` for a TCP echo server in under 40 lines).
//!
//! The layers underneath are crates of their own (kernel: boot, memory, CPUs, clock; nic:
//! the per-core queue interface and RSS steering; virtio and ixgbe: the drivers; net:
//! per-core TCP/IP). Appliances do not name them: what they need is in [`prelude`];
//! [`raw`] reaches them for tools and the in-guest test programs, and [`testing`] has the
//! simulated NIC that host tests run stacks on. [`budget`] splits each core's heap between
//! TCP sockets, the appliance's per-connection state and its buffer pool, which sizes the
//! connection limit; [`timer`] has periodic timers; [`metrics`] registers an appliance's own
//! counters and gauges, which a `/metrics` page renders with corenet's own (cores, uptime,
//! heap, idle accounting). The runtime is only built for the guest target; the rest also
//! builds on the host, for tests and tools.
#![no_std]

extern crate alloc;

pub use log;

#[cfg(target_os = "none")]
pub use corenet_kernel::exit::{code as exit_code, exit};
pub mod budget;
pub mod metrics;
#[cfg(target_os = "none")]
pub mod netdev;
#[cfg(target_os = "none")]
pub mod network;
pub mod timer;

#[cfg(target_os = "none")]
pub use corenet_kernel::{Appliance, Core, Step, appliance, println};

/// What an appliance needs, in one import: `use corenet::prelude::*;`.
pub mod prelude {
    pub use crate::budget::{AppMemory, MemoryPlan};
    pub use crate::metrics::{self, Counter, Gauge, RegisterError};
    pub use crate::timer::{Every, Sweep};
    pub use alloc::{boxed::Box, vec::Vec};
    pub use core::time::Duration;
    pub use corenet_boot::Cmdline;
    pub use corenet_net::config::Ipv4Config;
    pub use corenet_net::counters::{NetCounters, NetSnapshot};
    pub use corenet_net::stack::{
        AcceptError, CloseError, ConnState, ConnectError, ListenError, RecvError, SendError,
        UdpBindError, UdpRecvError, UdpSendError, UdpSocket,
    };
    pub use corenet_net::{Conn, Drain, Drained, IpAddr, Sockets};
    pub use log;

    #[cfg(target_os = "none")]
    pub use crate::network::{NetStartError, Network};
    #[cfg(target_os = "none")]
    pub use crate::{OrBootFail, boot_fail, heap_free, wake_core};
    #[cfg(target_os = "none")]
    pub use corenet_kernel::{Appliance, Core, Step, appliance, println};
}

/// Stops the machine at start-up with `corenet: BOOT FAILED: <message>` and exit code 5 (a
/// bad command line, a missing device): a clear line instead of a panic.
#[cfg(target_os = "none")]
pub fn boot_fail(args: core::fmt::Arguments<'_>) -> ! {
    corenet_kernel::boot::boot_fail(args)
}

/// Start-up results (`init`): stop the machine with a clear line instead of panicking.
#[cfg(target_os = "none")]
pub trait OrBootFail<T> {
    /// The value, or [`boot_fail`] with `<what>: <error>`.
    fn or_boot_fail(self, what: &str) -> T;
}

#[cfg(target_os = "none")]
impl<T, E: core::fmt::Display> OrBootFail<T> for Result<T, E> {
    fn or_boot_fail(self, what: &str) -> T {
        match self {
            Ok(v) => v,
            Err(e) => boot_fail(format_args!("{what}: {e}")),
        }
    }
}

/// This core's free heap, bytes (what a memory budget observes).
#[cfg(target_os = "none")]
pub fn heap_free() -> usize {
    let heap = &corenet_kernel::cpu::this().heap;
    heap.size()
        .saturating_sub(heap.used.load(core::sync::atomic::Ordering::Relaxed) as usize)
}

/// Wakes core `core` if it is halted (or about to halt): call after making a message for it
/// visible (a ring of the appliance's own between cores), so an appliance that lets its cores
/// halt (`Appliance::arm_wakeups`) loses no message. Costs one load while that core polls;
/// nothing for this core or under `idle=poll`.
#[cfg(target_os = "none")]
pub fn wake_core(core: usize) {
    corenet_kernel::cpu::wake::wake(core)
}

/// The layers under the facade, whole, for what the prelude deliberately leaves out: tools
/// and the in-guest test programs (among the bundled appliances only proxy's backend parser,
/// for `raw::net::config::addr6`). An appliance that needs this
/// for its ordinary work shows a gap in the prelude.
pub mod raw {
    pub use corenet_boot as boot;
    pub use corenet_ixgbe as ixgbe;
    pub use corenet_kernel as kernel;
    pub use corenet_net as net;
    pub use corenet_nic as nic;
    pub use corenet_virtio as virtio;
}

/// Host-test support: a per-core stack on a simulated multi-queue NIC, the same
/// [`Sockets`](prelude::Sockets) API the guest's stacks have; with the `testkit` feature also
/// net's shared test kit (the peer host, the addresses, per-core stacks, the byte pattern).
pub mod testing {
    #[cfg(feature = "testkit")]
    pub use corenet_net::testkit::*;

    pub use corenet_net::sim::{SimNic, SimRxQueue, SimTxQueue};
    pub use corenet_net::{CoreStack, StackConfig};
    pub use corenet_nic::steering::RssConfig;

    /// A stack on one queue pair of a [`SimNic`].
    pub type SimStack = CoreStack<SimRxQueue, SimTxQueue>;
}
