//! One core's TCP/IP stack: a smoltcp `Interface` over the core's queue pair, one socket set
//! per connection found through a flow table (O(1) dispatch), a listen backlog, and a
//! budgeted poll loop.
//!
//! smoltcp offers each received packet to every socket of the `SocketSet` it is given, and
//! egresses every socket on every poll. So this layer gives every connection a `SocketSet`
//! of its own and finds it through a hash table keyed by the flow:
//!
//! ```text
//!   frame --classify--> ARP, NDP   -> empty set (the Interface learns the neighbor),
//!                                     copied to the other cores
//!                       TCP flow   -> table[hash(flow)] -> the connection's own set
//!                       TCP SYN    -> a fresh listening socket in its own set (half-open),
//!                                     or, past the port's half-open budget, a SYN cookie
//!                       UDP / ICMP -> datagram set
//! ```
//!
//! Egress runs only for connections that received a packet, that the application touched,
//! or whose smoltcp deadline (kept in a hashed timing wheel) has come. Per-packet work is
//! thus independent of the number of connections on the core: one Interface (one neighbor
//! cache, one IP configuration) serves all the sets.

mod addr;
mod autosize;
mod classify;
mod congestion;
mod dhcp_filter;
mod egress;
mod flows;
mod halfopen;
mod ingress;
mod keys;
mod neighbors;
mod owned;
mod portbuf;
mod sndbuf;
mod syncookie;
mod synflood;
mod synwire;
mod tcp;
mod udp;
mod wheel;

pub use classify::{Class, Tuple, classify};
pub use congestion::TcpCongestion;
pub use owned::{Conn, Drain, Drained, Sockets};
pub use portbuf::{PortBufferError, parse_port_buffers};
pub use tcp::{
    AcceptError, CloseError, ConnState, ConnectError, ListenError, RecvError, SendError, TcpConn,
};
pub use udp::{UdpBindError, UdpCloseError, UdpRecvError, UdpSendError, UdpSocket};

use alloc::collections::VecDeque;
use alloc::vec;
use alloc::vec::Vec;

use corenet_nic::steering::RssConfig;
use corenet_nic::{RxQueue, TxQueue};
use smoltcp::iface::{Config as IfaceConfig, Interface, SocketHandle, SocketSet};
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress};

use crate::config::{Ipv4Config, Ipv6Config};
use crate::counters::NetCounters;
use crate::device::QueueDevice;
use crate::mesh::MeshPort;
use crate::ports::{PortAllocator, PortConfigError};
use wheel::Wheel;

/// Minimum spacing of the sweeps that wake connections after ARP traffic (smoltcp silences
/// a socket waiting for a neighbor for 1 s, so waking it a little late costs nothing).
const ARP_SWEEP_MS: i64 = 20;

/// TCP state names (RFC 9293, lower case) in the order [`CoreStack::connection_states`] counts.
pub const TCP_STATES: [&str; 11] = [
    "closed",
    "listen",
    "syn_sent",
    "syn_received",
    "established",
    "fin_wait_1",
    "fin_wait_2",
    "close_wait",
    "closing",
    "last_ack",
    "time_wait",
];

/// Static configuration of one core's stack (the same on every core but `seed`).
#[derive(Debug, Clone)]
pub struct StackConfig {
    /// The MAC address all cores share.
    pub mac: [u8; 6],
    /// The IPv4 address all cores share.
    pub ip: [u8; 4],
    /// Prefix length of the local network.
    pub prefix_len: u8,
    /// Default gateway, if any.
    pub gateway: Option<[u8; 4]>,
    /// DNS servers for the application's resolver (with DHCP, the lease's replace them).
    pub dns: [Option<[u8; 4]>; crate::config::MAX_DNS],
    /// A static global IPv6 address (needs the `ipv6` feature; with it, every core also has
    /// the link-local address derived from `mac`).
    pub ipv6: Option<Ipv6Config>,
    /// Per-core randomness from the platform. Every secret of the core is derived from it
    /// with a keyed hash (SipHash, one label each): the RFC 6528 ISN key, the SYN cookie key,
    /// the flow table's hash key, the port allocator's start. Give every core and every boot
    /// a different one.
    pub seed: u64,
    /// log2 of the flow table's size; about log2(`max_connections`) keeps chains short.
    pub bucket_bits: u32,
    /// Connections (any state but LISTEN) a core holds at most; SYNs beyond get RST.
    pub max_connections: usize,
    /// Listening sockets kept ready (allocated ahead) per listening port; each SYN takes one,
    /// or a new one when none is left.
    pub backlog: usize,
    /// Half-open (SYN-RECEIVED) passive connections a listening port may hold; SYNs beyond it
    /// are answered with SYN cookies (RFC 4987) and hold no state. Default 8 x the default
    /// `backlog` (128).
    pub half_open_per_port: usize,
    /// Half-open passive connections a core holds at most, over all ports; at the bound
    /// further SYNs get SYN cookies, as past a port's budget (a SYN never evicts: see
    /// `ingress_syn`). Default 256.
    pub half_open_max: usize,
    /// A passive handshake (SYN-RECEIVED) not completed in this long is abandoned and its
    /// slot freed. Milliseconds; default 30 000. The peer's ACK normally comes within one
    /// round trip, but on a congested link its ACK and first request can be lost for
    /// seconds (retried at the client's RTO: 1, 3, 7, 15 s); an abandoned handshake's late
    /// ACK would get a RST. A flood's entries holding the set longer costs no more: past
    /// the half-open bounds SYNs get cookies, which stay valid 64 s or more.
    pub syn_received_timeout_ms: u64,
    /// TCP receive and send buffer per connection, bytes.
    pub tcp_buffer: usize,
    /// Ephemeral port range for `connect`.
    pub ephemeral: (u16, u16),
    /// How long a released ephemeral port rests, microseconds.
    pub time_wait_us: u64,
    /// The core that runs the DHCP client, when one is started; the others forward DHCP
    /// replies to it.
    pub dhcp_core: u16,
    /// An active open (SYN-SENT) with no answer for this long is abandoned. Milliseconds.
    /// Passive opens use `syn_received_timeout_ms`.
    pub handshake_timeout_ms: u64,
    /// Keep-alive interval of established connections, milliseconds (0: off). A peer that
    /// answers nothing for three intervals is dead: the connection is reset and freed, so
    /// clients that vanish (their FIN or RST lost, a host gone) cannot pin connection slots.
    pub keepalive_ms: u64,
    /// After the application closes a connection, how long the peer may stay silent before
    /// the connection is reset and freed (an orphaned FIN-WAIT-2, LAST-ACK or CLOSING whose
    /// peer is gone; Linux's `tcp_fin_timeout` plays this part). Milliseconds.
    pub close_timeout_ms: u64,
    /// Frames taken from the RX queue per `poll` at most.
    pub rx_budget: usize,
    /// Egress rounds per connection per `poll` at most.
    pub tx_rounds: usize,
    // guard (issue 11)
    /// ICMP errors (e.g. port unreachable for a closed UDP port) and echo replies this core
    /// sends per second at most, on average (Linux: `icmp_msgs_per_sec`, 1000); the excess
    /// is dropped and counted (`icmp_rate_limited`).
    pub icmp_rate: u32,
    /// ... and at most this many at once (Linux: `icmp_msgs_burst`, 50). 0: none at all.
    pub icmp_burst: u32,
    // tcp (issue 12)
    /// Congestion control of every TCP connection (`tcp_cc=`; default Reno).
    pub tcp_cc: TcpCongestion,
    /// Lower bound of the TCP retransmission timeout, milliseconds. Default 200, Linux's
    /// `TCP_RTO_MIN`: RFC 6298's 1 s makes every loss a timer must repair cost a second.
    pub tcp_rto_min_ms: u64,
    // tcp2 (issue 12 item 3)
    /// Listening ports whose connections get TCP buffers of their own size, each way:
    /// `(port, bytes)`, port 0 unused. Above 64 KiB the window is scaled, so one bulk
    /// connection can fill a long path (a window per round trip) while the others keep
    /// `tcp_buffer`. What such a buffer costs beyond `tcp_buffer` is charged to
    /// `port_buffer_budget`; past it a connection gets `tcp_buffer` (counted as
    /// `port_buffer_fallback`). Default: none.
    pub port_buffers: [(u16, usize); MAX_PORT_BUFFERS],
    /// Bytes per core for the part of `port_buffers`' buffers beyond `tcp_buffer`, both
    /// directions: a connection with buffers of `b` bytes costs `2 * (b - tcp_buffer)`.
    pub port_buffer_budget: usize,
    /// Buffers sized to the path (`tcpbuf_auto=`; 0 here: off, but corenet's facade sets
    /// 512 KiB and a budget unless `tcpbuf_auto=off`): a passive open on
    /// a port without its own size starts with `tcp_buffer`, offering the window scale of
    /// this size, and once established gets buffers of the handshake's round-trip time x
    /// `tcp_path_rate` (a power of two, from `tcp_buffer` up to this), charged to
    /// `port_buffer_budget` like `port_buffers`.
    pub tcp_buffer_auto_max: usize,
    /// The rate, bytes per second, the auto-sized buffers are to carry per connection.
    /// Default 12.5 MB/s (100 Mbit/s): 16 KiB up to 1.3 ms, 256 KiB at 21 ms.
    pub tcp_path_rate: u64,
    // longpath (issue 12: goodput on long paths)
    /// Pace the data of passive opens sized to the path (`tcp_buffer_auto_max`) whose
    /// handshake took 10 ms or more (`tcp_pacing=`; smoltcp patch 11): at most twice the
    /// window per smoothed round trip, so a large window does not leave in one burst.
    /// Default off here; corenet's facade chooses its own default.
    pub tcp_pacing: bool,
    // hystart (issue 12: slow start's exit on a long path)
    /// Leave the first slow start when the round trip rises (HyStart++, RFC 9406;
    /// `tcp_hystart=`; smoltcp patch 15), before a queue on the path overflows. Acts with
    /// Reno. Default off here; corenet's facade chooses its own default.
    pub tcp_hystart: bool,
}

/// Listening ports [`StackConfig::port_buffers`] can name.
pub const MAX_PORT_BUFFERS: usize = 4;

impl StackConfig {
    /// Reasonable defaults for address `ip`/`prefix_len` and MAC `mac`.
    pub fn new(mac: [u8; 6], ip: [u8; 4], prefix_len: u8, seed: u64) -> Self {
        Self {
            mac,
            ip,
            prefix_len,
            gateway: None,
            dns: [None; crate::config::MAX_DNS],
            ipv6: None,
            seed,
            bucket_bits: 14,
            max_connections: 16_384,
            backlog: 16,
            half_open_per_port: 128,
            half_open_max: 256,
            syn_received_timeout_ms: 30_000,
            tcp_buffer: 16 * 1024,
            ephemeral: crate::ports::DEFAULT_RANGE,
            time_wait_us: crate::ports::DEFAULT_TIME_WAIT_US,
            dhcp_core: 0,
            handshake_timeout_ms: 30_000,
            keepalive_ms: 60_000,
            close_timeout_ms: 60_000,
            rx_budget: 64,
            tx_rounds: 16,
            icmp_rate: 1000,
            icmp_burst: 50,
            tcp_cc: TcpCongestion::default(),
            tcp_rto_min_ms: 200,
            port_buffers: [(0, 0); MAX_PORT_BUFFERS],
            port_buffer_budget: 0,
            tcp_buffer_auto_max: 0,
            tcp_path_rate: 12_500_000,
            tcp_pacing: false,
            tcp_hystart: false,
        }
    }
}

/// Errors from [`CoreStack::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackError {
    /// The ephemeral port configuration does not fit the steering table.
    Ports(PortConfigError),
    /// `bucket_bits` over 20, a prefix over 32 (128 for IPv6), a multicast IPv6 address, or a
    /// MAC that is not unicast.
    BadConfig,
    /// An IPv6 address was configured but the crate was built without the `ipv6` feature.
    Ipv6Disabled,
}

/// Errors from [`CoreStack::dhcp_start`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DhcpError {
    /// This core is not the configured `dhcp_core`.
    NotDhcpCore,
    /// The client already runs.
    AlreadyStarted,
}

/// Errors from [`CoreStack::announce`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnnounceError {
    /// No TX buffer free right now; try again after a poll.
    TxFull,
}

/// What one [`CoreStack::poll`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PollReport {
    /// Frames processed from the RX queue or from other cores.
    pub rx_frames: usize,
    /// Connections egressed.
    pub conns_polled: usize,
}

/// What one [`CoreStack::pass`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PassReport {
    /// Frames processed from the RX queue or from other cores.
    pub rx_frames: usize,
    /// Connections egressed.
    pub conns_polled: usize,
    /// The application said it did something.
    pub app_work: bool,
}

/// A chain of the flow table.
struct Bucket {
    flows: Vec<(Tuple, u32)>,
}

struct Listener {
    port: u16,
    /// Sockets in LISTEN allocated ahead (each SYN takes one into a set of its own).
    ready: Vec<smoltcp::socket::tcp::Socket<'static>>,
    /// Established connections waiting for `accept`.
    accept: VecDeque<u32>,
    /// Half-open connections of this port now.
    half_open: usize,
    /// Cookie ACKs are looked for until then (µs): two cookie periods after the last cookie
    /// sent, so a port that never sent one pays nothing for stray ACKs.
    cookies_until_us: u64,
}

/// Where a connection came from, and whether the application has seen it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// Passive open not yet handed to `accept`.
    Embryonic(u16),
    /// Established, waiting in the listener's accept queue.
    Queued,
    /// Handed out by `accept`.
    Accepted,
    /// Active open; the local port came from the allocator.
    Connected,
}

struct Connection {
    /// A set holding just this connection's socket.
    set: SocketSet<'static>,
    handle: SocketHandle,
    /// Queued for egress in this poll.
    dirty: bool,
    /// Deadline currently in the wheel.
    armed: Option<i64>,
    tuple: Tuple,
    origin: Origin,
    /// The application called `close`: free everything once smoltcp reaches CLOSED.
    closed: bool,
    /// The handshake timeout is still set on the socket.
    handshaking: bool,
    /// One past the highest sequence number sent: a segment starting below it is a
    /// retransmission.
    snd_max: Option<u32>,
    /// In the half-open set (a passive open in SYN-RECEIVED).
    half_open: bool,
    /// Bytes of `port_buffer_budget` this connection's buffers hold.
    port_buffer_extra: usize,
    /// A passive open's SYN arrived then (µs); `None`: not to be sized to the path.
    auto_from_us: Option<u64>,
    /// Where the application's bytes end in sequence space (sndbuf.rs).
    tail: sndbuf::Tail,
    /// No send buffer growth until the peer acknowledged up to here (once per round trip).
    grow_after: Option<u32>,
}

struct Slot {
    generation: u32,
    conn: Option<Connection>,
    /// In `ready` (per slot, not per connection, so a reused slot is listed once).
    ready: bool,
}

/// One core's stack. Owns its queue pair; shares nothing writable with other cores.
pub struct CoreStack<R: RxQueue, T: TxQueue> {
    cfg: StackConfig,
    dev: QueueDevice<R, T>,
    iface: Interface,
    buckets: Vec<Bucket>,
    dirty: Vec<u32>,
    /// Slots with news for the application since it last took them (`take_ready`).
    ready: Vec<u32>,
    listeners: Vec<Listener>,
    dgram: SocketSet<'static>,
    void: SocketSet<'static>,
    slots: Vec<Slot>,
    free_slots: Vec<u32>,
    live: usize,
    /// Bytes of `cfg.port_buffer_budget` held by connections.
    port_buffer_used: usize,
    ports: PortAllocator,
    wheel: Wheel,
    mesh: Option<MeshPort>,
    /// The DHCP client socket (in `dgram`), on the DHCP core once started.
    dhcp: Option<SocketHandle>,
    /// The address in use, if any.
    ipv4: Option<Ipv4Config>,
    /// The static global IPv6 address, if any.
    ipv6: Option<Ipv6Config>,
    /// The IPv6 link-local address (from the MAC), when built with `ipv6`.
    link_local: Option<[u8; 16]>,
    counters: NetCounters,
    now: Instant,
    hash_key: u64,
    /// Every secret of the core, derived from `cfg.seed`.
    keys: keys::Keys,
    /// Half-open connections (slot, generation) in arrival order; entries of connections
    /// that left the set go stale and are skipped.
    half_open_fifo: VecDeque<(u32, u32)>,
    /// Connections in the half-open set.
    half_open_count: usize,
    /// An ARP frame was processed and the connections have not been swept since.
    arp_seen: bool,
    /// Earliest time (ms) of the next ARP-triggered sweep.
    next_sweep_ms: i64,
    /// When (ms) the DHCP client starts over after a lease with a bad router.
    dhcp_restart_ms: Option<i64>,
    /// The DHCP client was reset after a rejected lease: its next "deconfigured" is about
    /// that lease, not the configuration in use.
    dhcp_rejected: bool,
    /// Connections whose owned handle ([`Conn`]) was dropped, to close at the next poll.
    releases: alloc::sync::Arc<owned::Releases>,
}

impl<R: RxQueue, T: TxQueue> CoreStack<R, T> {
    /// A stack over queue pair (`rx`, `tx`), predicting steering with `rss`; `mesh` links it
    /// to the other cores (see [`crate::mesh::mesh`]). `now_us` is the platform's monotonic
    /// clock in microseconds. An address of 0.0.0.0 leaves the stack unconfigured until
    /// DHCP (see [`dhcp_start`](Self::dhcp_start)) configures it.
    pub fn new(
        cfg: StackConfig,
        rss: &RssConfig,
        rx: R,
        tx: T,
        mesh: Option<MeshPort>,
        now_us: u64,
    ) -> Result<Self, StackError> {
        let mac = EthernetAddress(cfg.mac);
        if cfg.bucket_bits > 20 || cfg.prefix_len > 32 || !mac.is_unicast() {
            return Err(StackError::BadConfig);
        }
        // smoltcp panics on a multicast interface address.
        if cfg
            .ipv6
            .is_some_and(|c| c.prefix_len > 128 || c.ip[0] == 0xff)
        {
            return Err(StackError::BadConfig);
        }
        if cfg!(not(feature = "ipv6")) && cfg.ipv6.is_some() {
            return Err(StackError::Ipv6Disabled);
        }
        let queue = rx.queue_index();
        let keys = keys::Keys::derive(cfg.seed);
        let ports = PortAllocator::new(
            rss,
            queue,
            cfg.ephemeral,
            cfg.time_wait_us,
            keys.port_cursor,
        )
        .map_err(StackError::Ports)?;
        let mut dev = QueueDevice::new(rx, tx);
        dev.set_icmp_limit(Some(crate::ratelimit::TokenBucket::new(
            cfg.icmp_rate,
            cfg.icmp_burst,
            now_us,
        )));
        let now = Instant::from_micros(now_us as i64);
        let mut icfg = IfaceConfig::new(HardwareAddress::Ethernet(mac));
        icfg.random_seed = keys.smoltcp_rng;
        let iface = Interface::new(icfg, &mut dev, now);
        let buckets = (0..1usize << cfg.bucket_bits)
            .map(|_| Bucket { flows: Vec::new() })
            .collect();
        let initial = (cfg.ip != [0; 4]).then_some(Ipv4Config {
            ip: cfg.ip,
            prefix_len: cfg.prefix_len,
            gateway: cfg.gateway,
            dns: cfg.dns,
        });
        let mut stack = Self {
            hash_key: keys.flow_hash,
            keys,
            half_open_fifo: VecDeque::new(),
            half_open_count: 0,
            cfg,
            dev,
            iface,
            buckets,
            dirty: Vec::new(),
            ready: Vec::new(),
            listeners: Vec::new(),
            dgram: SocketSet::new(vec![]),
            void: SocketSet::new(vec![]),
            slots: Vec::new(),
            free_slots: Vec::new(),
            live: 0,
            port_buffer_used: 0,
            ports,
            wheel: Wheel::new(now.total_millis()),
            mesh,
            dhcp: None,
            ipv4: None,
            ipv6: None,
            link_local: None,
            counters: NetCounters::default(),
            now,
            arp_seen: false,
            next_sweep_ms: 0,
            dhcp_restart_ms: None,
            dhcp_rejected: false,
            releases: Default::default(),
        };
        #[cfg(feature = "ipv6")]
        {
            stack.link_local = Some(crate::ip::link_local(stack.cfg.mac));
            stack.ipv6 = stack.cfg.ipv6.map(|mut c| {
                // Like IPv4's in `apply_ipv4`: never a non-unicast neighbor for smoltcp.
                if let Some(gw) = c.gateway
                    && let Err(e) = crate::config::check_gateway_v6(c.ip, c.prefix_len, gw)
                {
                    log::error!("net: IPv6 gateway refused ({e:?}); no default route");
                    stack.counters.bad_gateway.inc();
                    c.gateway = None;
                }
                c
            });
        }
        stack.apply_ipv4(initial);
        Ok(stack)
    }

    /// The IPv4 configuration in use (static, or from DHCP), if any.
    pub fn ipv4_config(&self) -> Option<Ipv4Config> {
        self.ipv4
    }

    /// The static global IPv6 address in use, if any.
    pub fn ipv6_config(&self) -> Option<Ipv6Config> {
        self.ipv6
    }

    /// The IPv6 link-local address (derived from the MAC); `None` without the `ipv6` feature.
    pub fn ipv6_link_local(&self) -> Option<[u8; 16]> {
        self.link_local
    }

    /// This core's counters.
    pub fn counters(&self) -> &NetCounters {
        &self.counters
    }

    /// The queue (and so core) this stack serves.
    pub fn queue(&self) -> u16 {
        self.dev.rx_queue().queue_index()
    }

    /// Connections held (any state but LISTEN, including ones not yet accepted).
    pub fn connections(&self) -> usize {
        self.live
    }

    /// Connections held, by TCP state, in the order of [`TCP_STATES`]. Visits every
    /// connection: for diagnostics and metrics, not for the per-packet path.
    pub fn connection_states(&self) -> [usize; TCP_STATES.len()] {
        use smoltcp::socket::tcp::{Socket, State};
        let mut n = [0; TCP_STATES.len()];
        for conn in self.slots.iter().filter_map(|s| s.conn.as_ref()) {
            let i = match conn.set.get::<Socket>(conn.handle).state() {
                State::Closed => 0,
                State::Listen => 1,
                State::SynSent => 2,
                State::SynReceived => 3,
                State::Established => 4,
                State::FinWait1 => 5,
                State::FinWait2 => 6,
                State::CloseWait => 7,
                State::Closing => 8,
                State::LastAck => 9,
                State::TimeWait => 10,
            };
            n[i] += 1;
        }
        n
    }

    /// Ephemeral ports held by active opens (freed when the connection is).
    pub fn ports_in_use(&self) -> usize {
        self.ports.in_use()
    }

    /// Connection slots ever allocated: stays at the peak of simultaneous connections,
    /// however many come and go.
    pub fn slot_capacity(&self) -> usize {
        self.slots.len()
    }

    /// The adapter's counters.
    pub fn device_stats(&self) -> crate::device::DeviceStats {
        self.dev.stats()
    }

    /// This core's receive queue (the driver's), to arm its interrupt before a halt.
    pub fn rx_queue_mut(&mut self) -> &mut R {
        self.dev.rx_queue_mut()
    }

    /// Counters of this core's receive and transmit queues (the driver's).
    pub fn queue_counters(&self) -> (&corenet_nic::QueueCounters, &corenet_nic::QueueCounters) {
        (
            self.dev.rx_queue().counters(),
            self.dev.tx_queue().counters(),
        )
    }

    /// One run-to-completion iteration at `now_us`: [`poll_ingress`](Self::poll_ingress)
    /// then [`poll_egress`](Self::poll_egress). An application that answers what it
    /// received in the same iteration calls the two halves itself, acting in between.
    pub fn poll(&mut self, now_us: u64) -> PollReport {
        let rx = self.poll_ingress(now_us);
        let polled = self.poll_egress();
        PollReport {
            rx_frames: rx,
            conns_polled: polled,
        }
    }

    /// One application pass at `now_us`: ingress, then `app` acts on the sockets, then
    /// egress, so what `app` queues (a reply, a FIN, a dropped [`Conn`]'s close) leaves in
    /// this pass rather than the next. `app` returns whether it did anything; the report's
    /// `app_work` carries it.
    pub fn pass(&mut self, now_us: u64, app: impl FnOnce(&mut dyn Sockets) -> bool) -> PassReport {
        let rx = self.poll_ingress(now_us);
        let app_work = app(self);
        let polled = self.poll_egress();
        PassReport {
            rx_frames: rx,
            conns_polled: polled,
            app_work,
        }
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_api;
#[cfg(test)]
mod tests_autosize;
#[cfg(test)]
mod tests_cc;
#[cfg(test)]
mod tests_churn;
#[cfg(test)]
mod tests_dhcp;
#[cfg(test)]
mod tests_faults;
#[cfg(test)]
mod tests_gateway;
#[cfg(test)]
mod tests_halfclose;
#[cfg(test)]
mod tests_hystart;
#[cfg(test)]
mod tests_icmp;
#[cfg(all(test, feature = "ipv6"))]
mod tests_ipv6;
#[cfg(test)]
mod tests_isn;
#[cfg(test)]
mod tests_longpath;
#[cfg(all(test, feature = "ipv6"))]
mod tests_ndp;
#[cfg(test)]
mod tests_neighbors;
#[cfg(test)]
mod tests_overrun;
#[cfg(test)]
mod tests_owned;
#[cfg(test)]
mod tests_pacing;
#[cfg(test)]
mod tests_passt;
#[cfg(test)]
mod tests_portbuf;
#[cfg(test)]
mod tests_reassembly;
#[cfg(test)]
mod tests_recovery;
#[cfg(test)]
mod tests_review;
#[cfg(all(test, feature = "ipv6"))]
mod tests_review6;
#[cfg(test)]
mod tests_review_dhcp;
#[cfg(test)]
mod tests_rss;
#[cfg(test)]
mod tests_rto;
#[cfg(test)]
mod tests_sndbuf;
#[cfg(test)]
mod tests_spurious;
#[cfg(test)]
mod tests_stale;
#[cfg(test)]
mod tests_synburst;
#[cfg(test)]
mod tests_syncookie;
#[cfg(test)]
mod tests_synflood;
#[cfg(test)]
mod tests_tso;
#[cfg(test)]
mod tests_window;
#[cfg(test)]
mod tests_wrong_core;
