//! Per-core networking for appliances: the NIC's queue pair + one `corenet-net` stack per core.
//!
//! [`Network::start`] runs in every core's `init`. Core 0 brings up the NIC
//! ([`crate::netdev`]) and builds the cross-core mesh (ARP and DHCP forwarding); each core
//! then takes its queue pair and mesh port and builds its own stack with its own hardware
//! seed. The IPv4 configuration comes from the kernel command line (`ip=10.0.0.2/24
//! gw=10.0.0.1`, Linux's `ip=a:s:g:m`, or `ip=dhcp`); with DHCP, `start` polls until a lease
//! arrives (bounded), so the network is up before the ready line. Core 0 announces the address
//! with a gratuitous ARP.
//!
//! After start, everything is per core: [`Network::poll`] is one pass of receive -> stack ->
//! transmit with a bounded amount of work, and the appliance uses the stack's safe TCP/UDP
//! API between polls.

use core::sync::atomic::{AtomicBool, Ordering};
use corenet_kernel::Core;
use corenet_kernel::cpu::MAX_CORES;
use corenet_net::config::{NetConfig as IpSetting, parse_cmdline};
use corenet_net::mesh::{self, MeshPort};
use corenet_net::stack::PollReport;
use corenet_net::{CoreStack, StackConfig};
use corenet_nic::{QueueCounters, RssConfig, RxFrame, RxQueue, TxQueue, TxSlot};
use corenet_virtio::{VirtioRx, VirtioTx};
use spin::Mutex;

use crate::netdev::{self, NicError, NicInfo};

extern crate alloc;

/// Receive side of this core's queue: the hardware queue (a software one will join it).
pub enum NetRx {
    /// A virtio-net receive queue.
    Virtio(VirtioRx),
}

/// Transmit side of this core's queue.
pub enum NetTx {
    /// A virtio-net transmit queue.
    Virtio(VirtioTx),
}

impl RxQueue for NetRx {
    fn queue_index(&self) -> u16 {
        match self {
            Self::Virtio(q) => q.queue_index(),
        }
    }
    #[inline]
    fn rx_burst(&mut self, out: &mut [RxFrame]) -> usize {
        match self {
            Self::Virtio(q) => q.rx_burst(out),
        }
    }
    #[inline]
    fn frame(&self, f: &RxFrame) -> &[u8] {
        match self {
            Self::Virtio(q) => q.frame(f),
        }
    }
    #[inline]
    fn release(&mut self, f: RxFrame) {
        match self {
            Self::Virtio(q) => q.release(f),
        }
    }
    fn counters(&self) -> &QueueCounters {
        match self {
            Self::Virtio(q) => q.counters(),
        }
    }
}

impl TxQueue for NetTx {
    fn queue_index(&self) -> u16 {
        match self {
            Self::Virtio(q) => q.queue_index(),
        }
    }
    #[inline]
    fn alloc(&mut self) -> Option<TxSlot> {
        match self {
            Self::Virtio(q) => q.alloc(),
        }
    }
    #[inline]
    fn buffer(&mut self, s: &TxSlot) -> &mut [u8] {
        match self {
            Self::Virtio(q) => q.buffer(s),
        }
    }
    #[inline]
    fn submit(&mut self, s: TxSlot, len: usize, o: corenet_nic::Offload) {
        match self {
            Self::Virtio(q) => q.submit(s, len, o),
        }
    }
    fn cancel(&mut self, s: TxSlot) {
        match self {
            Self::Virtio(q) => q.cancel(s),
        }
    }
    #[inline]
    fn flush(&mut self) {
        match self {
            Self::Virtio(q) => q.flush(),
        }
    }
    fn csum_offload(&self) -> bool {
        match self {
            Self::Virtio(q) => q.csum_offload(),
        }
    }
    fn counters(&self) -> &QueueCounters {
        match self {
            Self::Virtio(q) => q.counters(),
        }
    }
}

/// One core's stack.
pub type Stack = CoreStack<NetRx, NetTx>;

/// Why a core has no network.
#[derive(Debug)]
pub enum NetStartError {
    /// No NIC, or it failed to come up.
    Nic(NicError),
    /// The NIC has fewer queue pairs than there are cores, and this core got none.
    NoQueue,
    /// `ip=` is missing or malformed.
    Config(corenet_net::config::CmdlineError),
    /// The stack rejected the configuration.
    Stack(corenet_net::stack::StackError),
    /// No DHCP lease within the time limit.
    DhcpTimeout,
}

/// This core's network: its stack and what the NIC is.
pub struct Network {
    /// The stack: TCP/UDP API, counters.
    pub stack: Stack,
    /// The NIC brought up by core 0.
    pub info: NicInfo,
    /// The steering table the stack predicts with.
    pub rss: RssConfig,
}

static MESH: [Mutex<Option<MeshPort>>; MAX_CORES] = [const { Mutex::new(None) }; MAX_CORES];
static MESH_READY: AtomicBool = AtomicBool::new(false);

/// How long `start` waits for a DHCP lease.
const DHCP_TIMEOUT_NS: u64 = 20_000_000_000;

impl Network {
    /// Brings up this core's network (call from `Appliance::init` on every core).
    pub fn start(core: &mut Core) -> Result<Self, NetStartError> {
        if core.id() == 0 {
            let _ = netdev::bring_up(core);
            for (i, port) in mesh::mesh(core.count()).into_iter().enumerate() {
                *MESH[i].lock() = Some(port);
            }
            MESH_READY.store(true, Ordering::Release);
        }
        let info = netdev::info(core).clone().map_err(NetStartError::Nic)?;
        let setting = parse_cmdline(core.cmdline().0).map_err(NetStartError::Config)?;
        let pair = netdev::take_queues(core).ok_or(NetStartError::NoQueue)?;
        while !MESH_READY.load(Ordering::Acquire) {
            core::hint::spin_loop();
        }
        let mesh = MESH[core.id()].lock().take();
        let rss = match &info.rss {
            Some(r) => r.clone(),
            None => RssConfig::new(info.pairs.max(1)).map_err(|_| NetStartError::NoQueue)?,
        };
        let (ip, prefix, gw) = match setting {
            IpSetting::Static(c) => (c.ip, c.prefix_len, c.gateway),
            IpSetting::Dhcp => ([0; 4], 0, None),
        };
        let mut cfg = StackConfig::new(info.mac, ip, prefix, core.seed());
        cfg.gateway = gw;
        let now_us = core.now_ns() / 1000;
        let stack = CoreStack::new(
            cfg,
            &rss,
            NetRx::Virtio(pair.rx),
            NetTx::Virtio(pair.tx),
            mesh,
            now_us,
        )
        .map_err(NetStartError::Stack)?;
        let mut net = Network { stack, info, rss };
        match setting {
            IpSetting::Static(_) => {
                if core.id() == 0 {
                    let _ = net.stack.announce();
                }
            }
            IpSetting::Dhcp => net.wait_for_lease(core)?,
        }
        Ok(net)
    }

    fn wait_for_lease(&mut self, core: &mut Core) -> Result<(), NetStartError> {
        if core.id() == 0 {
            let _ = self.stack.dhcp_start();
        }
        let deadline = core.now_ns() + DHCP_TIMEOUT_NS;
        while self.stack.ipv4_config().is_none() {
            if core.now_ns() > deadline {
                return Err(NetStartError::DhcpTimeout);
            }
            self.poll(core);
        }
        if let Some(c) = self.stack.ipv4_config() {
            log::info!(
                "net: DHCP lease {}.{}.{}.{}/{} gateway {:?}",
                c.ip[0],
                c.ip[1],
                c.ip[2],
                c.ip[3],
                c.prefix_len,
                c.gateway
            );
        }
        Ok(())
    }

    /// One bounded pass of receive -> stack -> transmit.
    #[inline]
    pub fn poll(&mut self, core: &Core) -> PollReport {
        self.stack.poll(core.now_ns() / 1000)
    }
}
