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
//! With the `ipv6` feature every core also has the link-local IPv6 address derived from the
//! MAC, and `ip6=fd00::2/64` (plus optional `gw6=fd00::1`) adds a static global one; core 0
//! announces them with unsolicited Neighbor Advertisements. Without the feature, `ip6=` is
//! ignored with a warning.
//!
//! With a single hardware queue pair (QEMU user-mode networking, devices without multi-queue)
//! and several cores, core 0 keeps the hardware pair and a `corenet_net::soft` distributor that
//! steers each frame to its core's software queue pair by the same Toeplitz table; every core's
//! stack runs on its software pair unchanged.
//!
//! After start, everything is per core: [`Network::poll`] is one pass of receive -> stack ->
//! transmit with a bounded amount of work, and the appliance uses the stack's safe TCP/UDP
//! API between polls.

use core::sync::atomic::{AtomicBool, Ordering};
use corenet_kernel::Core;
use corenet_kernel::cpu::{MAX_CORES, wake};
use corenet_net::config::{IpSetting, parse_cmdline, parse_ipv6_cmdline};
use corenet_net::mesh::{self, MeshPort};
use corenet_net::soft::{Distributor, SoftRx, SoftTx, soft_queues};
use corenet_net::stack::{PollReport, TcpCongestion};
use corenet_net::{CoreStack, Sockets, StackConfig};
use corenet_nic::{QueueCounters, RssConfig, RxFrame, RxQueue, TxQueue, TxSlot};
use corenet_virtio::{VirtioRx, VirtioTx};
use spin::Mutex;

use crate::budget::{AppMemory, MemoryPlan};
use crate::netdev::{self, NicError, NicInfo, NicPair};
use corenet_ixgbe::{IxgbeRx, IxgbeTx, Mmio};
use corenet_virtio::Steering;

extern crate alloc;

/// Receive side of this core's queue: a hardware queue, or a software queue fed by the core
/// that owns a single hardware queue.
#[allow(
    clippy::large_enum_variant,
    reason = "one per core, built once and never moved on the fast path; boxing would add a pointer chase per burst"
)]
pub enum NetRx {
    /// A virtio-net receive queue.
    Virtio(VirtioRx),
    /// A software queue (single-queue NIC).
    Soft(SoftRx),
    /// An 82599 receive queue.
    Ixgbe(IxgbeRx<Mmio>),
}

/// Transmit side of this core's queue.
#[allow(
    clippy::large_enum_variant,
    reason = "one per core, built once and never moved on the fast path; boxing would add a pointer chase per burst"
)]
pub enum NetTx {
    /// A virtio-net transmit queue.
    Virtio(VirtioTx),
    /// A software queue (single-queue NIC).
    Soft(SoftTx),
    /// An 82599 transmit queue.
    Ixgbe(IxgbeTx<Mmio>),
}

impl NetRx {
    /// Asks the NIC to interrupt this core on the next frame (virtio-pci and the Intel NICs
    /// with MSI-X, a single-queue virtio-mmio NIC through the I/O APIC):
    /// `Some(pending)` when armed (`pending`: frames already wait), `None` when this queue
    /// cannot interrupt.
    fn arm_interrupt(&mut self) -> Option<bool> {
        match self {
            NetRx::Virtio(q) if netdev::rx_interrupts() => {
                netdev::ack_rx_interrupt();
                Some(q.enable_interrupt())
            }
            NetRx::Ixgbe(q) => q.enable_interrupt(),
            _ => None,
        }
    }

    fn disarm_interrupt(&mut self) {
        match self {
            NetRx::Virtio(q) => q.disable_interrupt(),
            NetRx::Ixgbe(q) => q.disable_interrupt(),
            NetRx::Soft(_) => {}
        }
    }
}

/// Splits a driver's queue pair into this module's queue types.
pub fn split(pair: NicPair) -> (NetRx, NetTx) {
    match pair {
        NicPair::Virtio(p) => (NetRx::Virtio(p.rx), NetTx::Virtio(p.tx)),
        NicPair::Ixgbe(p) => (NetRx::Ixgbe(p.rx), NetTx::Ixgbe(p.tx)),
    }
}

/// Dispatches a queue-trait call to the variant.
macro_rules! each {
    ($self:ident, $q:ident => $e:expr) => {
        match $self {
            Self::Virtio($q) => $e,
            Self::Soft($q) => $e,
            Self::Ixgbe($q) => $e,
        }
    };
}

impl RxQueue for NetRx {
    fn queue_index(&self) -> u16 {
        each!(self, q => q.queue_index())
    }
    #[inline]
    fn rx_burst(&mut self, out: &mut [RxFrame]) -> usize {
        each!(self, q => q.rx_burst(out))
    }
    #[inline]
    fn frame(&self, f: &RxFrame) -> &[u8] {
        each!(self, q => q.frame(f))
    }
    #[inline]
    fn release(&mut self, f: RxFrame) {
        each!(self, q => q.release(f))
    }
    fn counters(&self) -> &QueueCounters {
        each!(self, q => q.counters())
    }
}

impl TxQueue for NetTx {
    fn queue_index(&self) -> u16 {
        each!(self, q => q.queue_index())
    }
    #[inline]
    fn alloc(&mut self) -> Option<TxSlot> {
        each!(self, q => q.alloc())
    }
    #[inline]
    fn buffer(&mut self, s: &TxSlot) -> &mut [u8] {
        each!(self, q => q.buffer(s))
    }
    #[inline]
    fn submit(&mut self, s: TxSlot, len: usize, o: corenet_nic::Offload) {
        each!(self, q => q.submit(s, len, o))
    }
    fn cancel(&mut self, s: TxSlot) {
        each!(self, q => q.cancel(s))
    }
    #[inline]
    fn flush(&mut self) {
        each!(self, q => q.flush())
    }
    fn csum_offload(&self) -> bool {
        each!(self, q => q.csum_offload())
    }
    fn tso_max_frame(&self) -> Option<usize> {
        each!(self, q => q.tso_max_frame())
    }
    #[inline]
    fn alloc_large(&mut self) -> Option<TxSlot> {
        each!(self, q => q.alloc_large())
    }
    fn counters(&self) -> &QueueCounters {
        each!(self, q => q.counters())
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
    /// `tcpbuf=` is not a size from 1K to 1M (e.g. `4K`).
    TcpBuffer,
    /// `tcp_cc=` is not `reno`, `cubic` or `none`.
    TcpCongestion,
    /// `tcp_rto_min=` is not a number of milliseconds from 1 to 60000.
    TcpRtoMin,
    /// The stack rejected the configuration.
    Stack(corenet_net::stack::StackError),
    /// `tcpbuf_port=` is malformed.
    TcpPortBuffer(corenet_net::stack::PortBufferError),
    /// `tcpbuf_auto=` is not `off` or a size from 1K to 1M.
    TcpBufferAuto,
    /// `tcp_pacing=` is not `on` or `off`.
    TcpPacing,
    /// `tcp_hystart=` is not `on` or `off`.
    TcpHystart,
    /// No DHCP lease within the time limit.
    DhcpTimeout,
}

impl core::fmt::Display for NetStartError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Nic(e) => e.fmt(f),
            Self::NoQueue => f.write_str("the NIC has no queue pair for this core"),
            Self::Config(e) => e.fmt(f),
            Self::TcpBuffer => f.write_str("tcpbuf= takes a size from 1K to 1M (e.g. 4K)"),
            Self::TcpCongestion => f.write_str("tcp_cc= takes reno, cubic or none"),
            Self::TcpRtoMin => f.write_str("tcp_rto_min= takes milliseconds from 1 to 60000"),
            Self::Stack(e) => write!(f, "the stack refused the configuration: {e:?}"),
            Self::TcpPortBuffer(e) => e.fmt(f),
            Self::TcpBufferAuto => {
                f.write_str("tcpbuf_auto= takes off or a size from 1K to 1M (e.g. 256K)")
            }
            Self::TcpPacing => f.write_str("tcp_pacing= takes on or off"),
            Self::TcpHystart => f.write_str("tcp_hystart= takes on or off"),
            Self::DhcpTimeout => write!(
                f,
                "no usable DHCP lease within {} s (offers naming a gateway that is not a \
                 unicast neighbor, or from an address that cannot be a server, are ignored)",
                DHCP_TIMEOUT_NS / 1_000_000_000
            ),
        }
    }
}

impl core::error::Error for NetStartError {}

/// The single hardware queue pair and its distributor, on the core that owns them.
struct SoftHw {
    distributor: Distributor,
    rx: NetRx,
    tx: NetTx,
}

/// `tcpbuf=`: each TCP socket's receive and send buffer (smoltcp allocates both up front), from
/// 1 KiB to 1 MiB. Smaller buffers fit more connections in the heap (an HTTP server with small
/// pages and 10 000 clients); larger ones carry bulk transfers faster.
fn tcp_buffer(v: Option<&str>) -> Result<Option<usize>, NetStartError> {
    let Some(v) = v else { return Ok(None) };
    match corenet_boot::cmdline::parse_size(v) {
        Some(n @ 1024..=0x10_0000) => Ok(Some(n as usize)),
        _ => Err(NetStartError::TcpBuffer),
    }
}

// tcpdef (issue 12: the defaults)
/// `tcpbuf_auto=`'s default: passive opens grow to their handshake's round trip x
/// `tcp_path_rate`, up to 640 KiB each way (docs/BENCHMARKS.md, "The defaults on the
/// faulty wire": against `tcpbuf=`'s 16 KiB alone, 10 MB each way through 5 % loss went
/// from 3.4x the Linux guest's time to 0.57x-0.98x, on a 50 ms path from 24.6x to 1.2x-2.5x
/// at 256 KiB; "Pacing on the 50 ms path": 512 KiB was bimodal until pacing was on, and with
/// it carries 10 MB each way at 50 ms in 1.4 s without a retransmission; 1 MiB overshoots).
// hystart (issue 12): 640 KiB, a little over the faulty wire's bandwidth-delay product at
// 50 ms and under it plus its queue ("HyStart++ on the 50 ms path": 512 KiB caps a
// connection at about 8.5 MB/s, under the Linux guest; 768 KiB and 1 MiB overshoot).
pub const DEFAULT_TCP_BUFFER_AUTO: usize = 640 * 1024;

/// `tcpbuf_auto=`: `off` (or `0`), a size from 1K to 1M, or absent for
/// [`DEFAULT_TCP_BUFFER_AUTO`]; `None` is off.
fn tcp_buffer_auto(v: Option<&str>) -> Result<Option<usize>, NetStartError> {
    match v {
        None => Ok(Some(DEFAULT_TCP_BUFFER_AUTO)),
        Some("off" | "0") => Ok(None),
        v => tcp_buffer(v).map_err(|_| NetStartError::TcpBufferAuto),
    }
}

// longpath (issue 12: goodput on long paths)
/// `tcp_pacing=`'s default: on (docs/BENCHMARKS.md, "Pacing on the 50 ms path": a 512 KiB
/// window sent unpaced overflowed the faulty wire's queue in one transfer of three).
pub const DEFAULT_TCP_PACING: bool = true;

/// `tcp_pacing=`: `on` or `off`, or absent for [`DEFAULT_TCP_PACING`].
fn tcp_pacing(v: Option<&str>) -> Result<bool, NetStartError> {
    match v {
        None => Ok(DEFAULT_TCP_PACING),
        Some("on" | "1") => Ok(true),
        Some("off" | "0") => Ok(false),
        Some(_) => Err(NetStartError::TcpPacing),
    }
}

// hystart (issue 12: slow start's exit on a long path)
/// `tcp_hystart=`'s default: on (docs/BENCHMARKS.md, "HyStart++ on the 50 ms path").
pub const DEFAULT_TCP_HYSTART: bool = true;

/// `tcp_hystart=`: `on` or `off`, or absent for [`DEFAULT_TCP_HYSTART`].
fn tcp_hystart(v: Option<&str>) -> Result<bool, NetStartError> {
    match v {
        None => Ok(DEFAULT_TCP_HYSTART),
        Some("on" | "1") => Ok(true),
        Some("off" | "0") => Ok(false),
        Some(_) => Err(NetStartError::TcpHystart),
    }
}

/// `tcp_cc=`: the congestion controller of every TCP connection (default Reno).
fn tcp_cc(v: Option<&str>) -> Result<Option<TcpCongestion>, NetStartError> {
    v.map(|v| TcpCongestion::parse(v).ok_or(NetStartError::TcpCongestion))
        .transpose()
}

/// `tcp_rto_min=`: the lower bound of the TCP retransmission timeout, milliseconds (default
/// 200, as Linux; RFC 6298 asks for 1000).
fn tcp_rto_min(v: Option<&str>) -> Result<Option<u64>, NetStartError> {
    v.map(|v| match v.parse::<u64>() {
        Ok(n @ 1..=60_000) => Ok(n),
        _ => Err(NetStartError::TcpRtoMin),
    })
    .transpose()
}

/// `tcpbuf_port=PORT:SIZE[,...]`: connections accepted on these ports get TCP buffers of
/// their own size (e.g. `7:256K`: above 64 KiB the window is scaled, for long paths).
fn tcp_port_buffers(
    v: Option<&str>,
) -> Result<Option<[(u16, usize); corenet_net::stack::MAX_PORT_BUFFERS]>, NetStartError> {
    v.map(|v| corenet_net::stack::parse_port_buffers(v).map_err(NetStartError::TcpPortBuffer))
        .transpose()
}

/// The share of the application pool that `tcpbuf_port=`'s and `tcpbuf_auto=`'s larger
/// buffers may take, per core: a quarter. Connections past it get `tcpbuf=`'s size.
const PORT_BUFFER_SHARE: u64 = 4;

/// Sizes the listen backlog and the connection limit from this core's memory budget (see
/// [`crate::budget`]), so that a client opening connections without end gets RSTs (counted as
/// refused) instead of exhausting the heap.
fn size_for_heap(cfg: &mut StackConfig, heap: u64, app: &AppMemory) -> MemoryPlan {
    let plan = MemoryPlan::new(heap, cfg.tcp_buffer, app);
    cfg.backlog = plan.backlog;
    cfg.max_connections = plan.max_connections;
    plan
}

/// Frames the distributor moves per direction per pass.
const PUMP_BUDGET: usize = 64;
/// Frame buffers per direction per core in software mode: 2 048 frames shared by the cores,
/// 256 to 1 023 each ([`soft_depth`]).
const SOFT_FRAMES: usize = 2048;
const SOFT_DEPTH_MIN: usize = 256;

/// Frame buffers per direction for each of `cores` cores in software mode. A core whose vCPU
/// the host deschedules for a few milliseconds (two vCPUs on a loaded two-core host) meets a
/// burst of a whole receive window from several connections when it runs again; with 256
/// buffers its ring overflowed under `tests/e2e/echo_app.py`'s 8 x 256 KiB (19 frames in one
/// run), and a peer that does not recover from losses (passt 2023, Debian 12's: it resends
/// neither a lost SYN nor a lost ACK) then stalls the connection. Up to 1 023 per core (what
/// the rings hold; Linux's per-CPU backlog is 1 000), fewer on many cores: core 0 allocates
/// them all, 1.5 KiB each.
fn soft_depth(cores: usize) -> usize {
    (SOFT_FRAMES / cores.max(1)).clamp(SOFT_DEPTH_MIN, corenet_net::soft::MAX_DEPTH)
}

/// How long received frames may wait in the hardware queue for a core whose software ring is
/// full before frames for it are dropped (`corenet_net::soft::Distributor::set_hold`): long
/// enough for a vCPU the host descheduled to run again, short enough that the other cores'
/// flows do not time out.
const SOFT_HOLD_NS: u64 = 20_000_000;

/// What the software distributor of a single-queue NIC held and dropped
/// ([`Network::soft_counters`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SoftCounters {
    /// Pumps that left received frames in the hardware queue because a core had no free
    /// buffer (back-pressure, not loss).
    pub rx_held: u64,
    /// Holds not begun: the full core was running but overloaded; frames for it were
    /// dropped instead.
    pub rx_hold_overloaded: u64,
    /// Frames dropped because their core's ring was full.
    pub drop_ring_full: u64,
}

/// This core's network: its stack and what the NIC is.
pub struct Network {
    /// Set on the core that owns a single hardware queue pair shared through software queues.
    hw: Option<SoftHw>,
    /// The stack: TCP/UDP API, counters.
    pub stack: Stack,
    /// The NIC brought up by core 0.
    pub info: NicInfo,
    /// The steering table the stack predicts with.
    pub rss: RssConfig,
    /// This core's memory budget: the connection limit and the appliance's buffer pool.
    pub plan: MemoryPlan,
    /// This core reads a hardware receive queue.
    polls_nic: bool,
    /// That queue's interrupt is armed (this core is halting or just woke).
    rx_armed: bool,
}

/// Longest halt of a core that reads a hardware receive queue that cannot interrupt
/// (multi-queue virtio-mmio, virtio-pci or an Intel NIC without MSI-X): such a core wakes this often to look at
/// its queue (the cost of an idle core is then this wake-up rate; a packet arriving at an idle
/// core waits up to this long).
pub const NIC_POLL_NS: u64 = 1_000_000;

static MESH: [Mutex<Option<MeshPort>>; MAX_CORES] = [const { Mutex::new(None) }; MAX_CORES];
static SOFT: [Mutex<Option<(SoftRx, SoftTx)>>; MAX_CORES] = [const { Mutex::new(None) }; MAX_CORES];
static SOFT_RSS: spin::Once<RssConfig> = spin::Once::new();
static MESH_READY: AtomicBool = AtomicBool::new(false);

/// An optional IPv4 address for the log, or `none`.
struct OrNone(Option<[u8; 4]>);

impl core::fmt::Display for OrNone {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            Some(a) => corenet_net::IpAddr::V4(a).fmt(f),
            None => f.write_str("none"),
        }
    }
}

/// A configuration's DNS servers, comma-separated, or `none`.
struct DnsList<'a>(&'a corenet_net::config::Ipv4Config);

impl core::fmt::Display for DnsList<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut any = false;
        for (i, s) in self.0.dns_servers().enumerate() {
            let sep = if i > 0 { "," } else { "" };
            write!(f, "{sep}{}", corenet_net::IpAddr::V4(s))?;
            any = true;
        }
        if !any {
            f.write_str("none")?;
        }
        Ok(())
    }
}

/// How long `start` waits for a DHCP lease.
const DHCP_TIMEOUT_NS: u64 = 20_000_000_000;

impl Network {
    /// Brings up this core's network (call from `Appliance::init` on every core), for an
    /// appliance with [`AppMemory::default`]'s needs.
    pub fn start(core: &mut Core) -> Result<Self, NetStartError> {
        Self::start_with(core, &AppMemory::default())
    }

    /// [`start_with`](Self::start_with) for an appliance's `init`, with the usual policy: a
    /// core the NIC has no queue for gets `None` (it logs a warning and serves nothing), and any
    /// other error (no NIC, a bad `ip=`/`gw=`/`tcpbuf=`, no DHCP lease) stops the machine with a
    /// clear `corenet: BOOT FAILED: <name>: network: ...` line and exit code 5, not a panic.
    pub fn start_or_stop(core: &mut Core, app: &AppMemory, name: &str) -> Option<Self> {
        match Self::start_with(core, app) {
            Ok(n) => Some(n),
            Err(NetStartError::NoQueue) => {
                log::warn!(
                    "{name}: core {} has no NIC queue; it serves nothing",
                    core.id()
                );
                None
            }
            Err(e) => corenet_kernel::boot::boot_fail(format_args!("{name}: network: {e}")),
        }
    }

    /// [`start`](Self::start) for an appliance that keeps `app` per connection: the
    /// connection limit pays for it, and [`plan`](Self::plan) says how much the appliance
    /// may buffer in all.
    pub fn start_with(core: &mut Core, app: &AppMemory) -> Result<Self, NetStartError> {
        if core.id() == 0 {
            let _ = netdev::bring_up(core);
            for (i, mut port) in mesh::mesh(core.count()).into_iter().enumerate() {
                port.set_wake(wake::wake);
                *MESH[i].lock() = Some(port);
            }
            MESH_READY.store(true, Ordering::Release);
        }
        // The command line first: a mistake in it is reported whether or not a NIC is there.
        let setting = parse_cmdline(core.cmdline().0).map_err(NetStartError::Config)?;
        let tcp_buffer_auto = tcp_buffer_auto(core.cmdline().get("tcpbuf_auto"))?;
        let tcp_buffer = tcp_buffer(core.cmdline().get("tcpbuf"))?;
        let tcp_cc = tcp_cc(core.cmdline().get("tcp_cc"))?;
        let tcp_rto_min = tcp_rto_min(core.cmdline().get("tcp_rto_min"))?;
        let tcp_pacing = tcp_pacing(core.cmdline().get("tcp_pacing"))?;
        let tcp_hystart = tcp_hystart(core.cmdline().get("tcp_hystart"))?;
        let port_buffers = tcp_port_buffers(core.cmdline().get("tcpbuf_port"))?;
        let mut ipv6 = parse_ipv6_cmdline(core.cmdline().0).map_err(NetStartError::Config)?;
        let info = netdev::info(core).clone().map_err(NetStartError::Nic)?;
        if cfg!(not(feature = "ipv6")) && ipv6.take().is_some() && core.id() == 0 {
            log::warn!("net: ip6= ignored: built without the ipv6 feature");
        }
        let software = info.steering == Steering::Software && core.count() > 1;
        let mut hw = None;
        let (rx, tx, rss) = if software {
            // One hardware queue pair: core 0 owns it and distributes frames to every core's
            // software queue pair by the same Toeplitz table a multi-queue NIC would use.
            if core.id() == 0 {
                let pair = netdev::take_queues(core).ok_or(NetStartError::NoQueue)?;
                let rss = RssConfig::with_key(netdev::rss_key(core), core.count())
                    .map_err(|_| NetStartError::NoQueue)?;
                let (mut distributor, pairs) = soft_queues(&rss, soft_depth(core.count()))
                    .map_err(|_| NetStartError::NoQueue)?;
                distributor.set_wake(wake::wake);
                distributor.set_hold(SOFT_HOLD_NS, corenet_kernel::clock::now_ns);
                for (i, (rx, mut tx)) in pairs.into_iter().enumerate() {
                    tx.set_wake(wake::wake, core.id());
                    *SOFT[i].lock() = Some((rx, tx));
                }
                SOFT_RSS.call_once(|| rss);
                let (rx, tx) = split(pair);
                hw = Some(SoftHw {
                    distributor,
                    rx,
                    tx,
                });
            }
            let deadline = core.now_ns() + 60_000_000_000;
            let rss = loop {
                if let Some(r) = SOFT_RSS.get() {
                    break r.clone();
                }
                if core.now_ns() > deadline {
                    return Err(NetStartError::NoQueue);
                }
                core::hint::spin_loop();
            };
            let (rx, tx) = SOFT[core.id()]
                .lock()
                .take()
                .ok_or(NetStartError::NoQueue)?;
            (NetRx::Soft(rx), NetTx::Soft(tx), rss)
        } else {
            let pair = netdev::take_queues(core).ok_or(NetStartError::NoQueue)?;
            let rss = match &info.rss {
                Some(r) => r.clone(),
                // The device steers by its own policy (e.g. virtio multi-queue without RSS):
                // the table only tells which core an active open's replies should reach;
                // segments arriving elsewhere are handed to their connection's core.
                None => RssConfig::with_key(netdev::rss_key(core), info.pairs.max(1))
                    .map_err(|_| NetStartError::NoQueue)?,
            };
            let (rx, tx) = split(pair);
            (rx, tx, rss)
        };
        let deadline = core.now_ns() + 60_000_000_000;
        while !MESH_READY.load(Ordering::Acquire) && core.now_ns() < deadline {
            core::hint::spin_loop();
        }
        let mesh = MESH[core.id()].lock().take();
        let (ip, prefix, gw, dns) = match setting {
            IpSetting::Static(c) => (c.ip, c.prefix_len, c.gateway, c.dns),
            IpSetting::Dhcp => ([0; 4], 0, None, Default::default()),
        };
        let mut cfg = StackConfig::new(info.mac, ip, prefix, core.seed());
        cfg.gateway = gw;
        cfg.dns = dns;
        if let Some(b) = tcp_buffer {
            cfg.tcp_buffer = b;
        }
        if let Some(cc) = tcp_cc {
            cfg.tcp_cc = cc;
        }
        if let Some(ms) = tcp_rto_min {
            cfg.tcp_rto_min_ms = ms;
        }
        cfg.tcp_pacing = tcp_pacing;
        cfg.tcp_hystart = tcp_hystart;
        cfg.ipv6 = ipv6;
        let mut plan = size_for_heap(
            &mut cfg,
            corenet_kernel::cpu::this().heap.size() as u64,
            app,
        );
        if port_buffers.is_some() || tcp_buffer_auto.is_some() {
            // Per-listener and path-sized buffers (issue 12 item 3): their excess over
            // `tcpbuf=` comes out of the application pool, so the heap plan still adds up.
            cfg.port_buffer_budget = (plan.app_pool / PORT_BUFFER_SHARE) as usize;
            plan.app_pool -= cfg.port_buffer_budget as u64;
        }
        if let Some(max) = tcp_buffer_auto {
            cfg.tcp_buffer_auto_max = max;
            if core.id() == 0 {
                log::info!(
                    "net: TCP buffers sized to the path: handshake round trip x {} bytes/s, up to {max} bytes each way, {} KiB per core for them",
                    cfg.tcp_path_rate,
                    cfg.port_buffer_budget >> 10
                );
            }
        }
        if let Some(p) = port_buffers {
            cfg.port_buffers = p;
            if core.id() == 0 {
                for &(port, size) in p.iter().filter(|&&(port, _)| port != 0) {
                    let each = 2 * size.saturating_sub(cfg.tcp_buffer);
                    log::info!(
                        "net: port {port}: TCP buffers {size} bytes each way, {} such connections per core at once",
                        cfg.port_buffer_budget
                            .checked_div(each)
                            .unwrap_or(cfg.max_connections)
                    );
                }
            }
        }
        if core.id() == 0 {
            log::info!(
                "net: {} connections per core at most, backlog {}, TCP buffers {} bytes each way, congestion control {}, minimum RTO {} ms, pacing {}, HyStart++ {}, {} KiB per core for application buffers",
                cfg.max_connections,
                cfg.backlog,
                cfg.tcp_buffer,
                cfg.tcp_cc.name(),
                cfg.tcp_rto_min_ms,
                if cfg.tcp_pacing { "on" } else { "off" },
                if cfg.tcp_hystart { "on" } else { "off" },
                plan.app_pool >> 10
            );
        }
        let now_us = core.now_ns() / 1000;
        let stack =
            CoreStack::new(cfg, &rss, rx, tx, mesh, now_us).map_err(NetStartError::Stack)?;
        let polls_nic = !software || hw.is_some();
        let mut net = Network {
            hw,
            stack,
            info,
            rss,
            plan,
            polls_nic,
            rx_armed: false,
        };
        match setting {
            IpSetting::Static(_) => {
                if core.id() == 0 {
                    let _ = net.stack.announce();
                }
            }
            IpSetting::Dhcp => net.wait_for_lease(core)?,
        }
        if core.id() == 0 {
            if let Some(ll) = net.stack.ipv6_link_local() {
                log::info!("net: IPv6 link-local {}", corenet_net::IpAddr::V6(ll));
            }
            if let Some(c) = net.stack.ipv6_config() {
                log::info!(
                    "net: IPv6 {}/{}",
                    corenet_net::IpAddr::V6(c.ip),
                    c.prefix_len
                );
            }
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
                "net: DHCP lease {}/{} gateway {} dns {}",
                corenet_net::IpAddr::V4(c.ip),
                c.prefix_len,
                OrNone(c.gateway),
                DnsList(&c),
            );
        }
        Ok(())
    }

    /// One bounded pass of receive -> stack -> transmit (on the core owning a shared single
    /// queue, first one distributor pass).
    #[inline]
    pub fn poll(&mut self, core: &Core) -> PollReport {
        if self.rx_armed {
            self.rx_armed = false;
            self.rx_mut().disarm_interrupt();
        }
        let mut pumped = 0;
        if let Some(hw) = self.hw.as_mut() {
            let r = hw.distributor.pump(&mut hw.rx, &mut hw.tx, PUMP_BUDGET);
            pumped = r.rx_frames + r.tx_frames;
        }
        let mut report = self.stack.poll(core.now_ns() / 1000);
        report.rx_frames += pumped;
        report
    }

    /// One pass, in the order that lets a reply leave in the pass that produced it: receive
    /// (on the core owning a shared single queue, first one distributor pass), then `app`
    /// acts on this core's sockets, then transmit (and, on the distributing core, hand what
    /// was just sent to the hardware queue). `app` returns whether it did anything; the pass
    /// returns whether anything happened at all (frames in, or the application's work), for
    /// [`Step::Busy`](corenet_kernel::Step).
    #[inline]
    pub fn pass(&mut self, core: &Core, app: impl FnOnce(&mut dyn Sockets) -> bool) -> bool {
        if self.rx_armed {
            self.rx_armed = false;
            self.rx_mut().disarm_interrupt();
        }
        let mut frames = 0;
        if let Some(hw) = self.hw.as_mut() {
            let r = hw.distributor.pump(&mut hw.rx, &mut hw.tx, PUMP_BUDGET);
            frames += r.rx_frames + r.tx_frames;
        }
        let r = self.stack.pass(core.now_ns() / 1000, app);
        frames += r.rx_frames;
        if let Some(hw) = self.hw.as_mut() {
            let r = hw.distributor.pump(&mut hw.rx, &mut hw.tx, PUMP_BUDGET);
            frames += r.rx_frames + r.tx_frames;
        }
        r.app_work || frames > 0
    }

    /// This core's sockets (to listen and bind at start-up; in the loop use [`pass`](Self::pass)).
    pub fn sockets(&mut self) -> &mut dyn Sockets {
        &mut self.stack
    }

    /// For [`Appliance::next_deadline_ns`](corenet_kernel::Appliance::next_deadline_ns): arms
    /// this core's receive interrupt where the NIC has one (the next poll disarms it) and
    /// says when the core must be woken (ns since boot) to run the stack's timers and, on a
    /// core that reads a hardware queue that cannot interrupt, to look at it (see
    /// [`NIC_POLL_NS`]). Other sources of work (the distributor's software queues, mesh
    /// messages) wake the core with an IPI.
    pub fn next_deadline_ns(&mut self, core: &Core) -> Option<u64> {
        // Called after the last look, right before the halt: a frame that arrived since that
        // look is seen here (`pending`) and the halt ends at once; later ones interrupt.
        if self.polls_nic
            && !self.rx_armed
            && let Some(pending) = self.rx_mut().arm_interrupt()
        {
            self.rx_armed = true;
            if pending {
                return Some(0);
            }
        }
        let stack = self
            .stack
            .next_deadline_ms()
            .map(|ms| u64::try_from(ms).unwrap_or(0).saturating_mul(1_000_000));
        let nic =
            (self.polls_nic && !self.rx_armed).then(|| core.now_ns().saturating_add(NIC_POLL_NS));
        match (stack, nic) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn rx_mut(&mut self) -> &mut NetRx {
        match self.hw.as_mut() {
            Some(hw) => &mut hw.rx,
            None => self.stack.rx_queue_mut(),
        }
    }

    /// Whether this core feeds the software queues of a single-queue NIC.
    pub fn distributes(&self) -> bool {
        self.hw.is_some()
    }

    /// On the core that feeds the software queues of a single-queue NIC, what the
    /// distributor held and dropped so far (`None` elsewhere).
    pub fn soft_counters(&self) -> Option<SoftCounters> {
        let c = self.hw.as_ref()?.distributor.counters();
        Some(SoftCounters {
            rx_held: c.rx_held.get(),
            rx_hold_overloaded: c.rx_hold_overloaded.get(),
            drop_ring_full: c.drop_ring_full.get(),
        })
    }
}
