//! One core's TCP/IP stack: a smoltcp `Interface` over the core's queue pair, sockets
//! bucketed by flow for O(1) dispatch, a listen backlog, and a budgeted poll loop.
//!
//! smoltcp offers each received packet to every socket of the `SocketSet` it is given, and
//! egresses every socket on every poll. So this layer keeps many small sets instead of one:
//!
//! ```text
//!   frame --classify--> ARP        -> empty set (the Interface learns the neighbor),
//!                                     copied to the other cores
//!                       TCP flow   -> bucket[hash(flow)]     (a handful of sockets)
//!                       TCP SYN    -> listen set (backlog)   -> socket moved to its bucket
//!                       UDP / ICMP -> datagram set
//! ```
//!
//! Egress runs only for buckets that received a packet, that the application touched, or
//! whose smoltcp deadline (kept in a hashed timing wheel) has come. Per-packet work is thus
//! independent of the number of connections on the core.

mod classify;
mod tcp;
mod udp;
mod wheel;

pub use classify::{Class, Tuple, classify};
pub use tcp::{
    AcceptError, CloseError, ConnState, ConnectError, ListenError, RecvError, SendError, TcpConn,
};
pub use udp::{UdpBindError, UdpRecvError, UdpSendError, UdpSocket};

use alloc::collections::VecDeque;
use alloc::vec;
use alloc::vec::Vec;

use corenet_nic::steering::RssConfig;
use corenet_nic::{RxQueue, TxQueue};
use smoltcp::iface::{Config as IfaceConfig, Interface, PollIngressSingleResult, SocketHandle};
use smoltcp::iface::{PollResult, SocketSet};
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpCidr, Ipv4Address};

use crate::arp::ArpPort;
use crate::counters::NetCounters;
use crate::device::QueueDevice;
use crate::ports::{PortAllocator, PortConfigError};
use wheel::Wheel;

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
    /// Per-core randomness from the platform: initial sequence numbers, port choice, bucket
    /// hashing. Give every core and every boot a different one.
    pub seed: u64,
    /// log2 of the number of flow buckets (e.g. 12 for 4096 buckets).
    pub bucket_bits: u32,
    /// Connections (any state but LISTEN) a core holds at most; SYNs beyond get RST.
    pub max_connections: usize,
    /// Listening sockets kept ready per listening port.
    pub backlog: usize,
    /// TCP receive and send buffer per connection, bytes.
    pub tcp_buffer: usize,
    /// Ephemeral port range for `connect`.
    pub ephemeral: (u16, u16),
    /// How long a released ephemeral port rests, microseconds.
    pub time_wait_us: u64,
    /// Frames taken from the RX queue per `poll` at most.
    pub rx_budget: usize,
    /// Egress rounds per bucket per `poll` at most.
    pub tx_rounds: usize,
}

impl StackConfig {
    /// Reasonable defaults for address `ip`/`prefix_len` and MAC `mac`.
    pub fn new(mac: [u8; 6], ip: [u8; 4], prefix_len: u8, seed: u64) -> Self {
        Self {
            mac,
            ip,
            prefix_len,
            gateway: None,
            seed,
            bucket_bits: 10,
            max_connections: 16_384,
            backlog: 16,
            tcp_buffer: 16 * 1024,
            ephemeral: crate::ports::DEFAULT_RANGE,
            time_wait_us: crate::ports::DEFAULT_TIME_WAIT_US,
            rx_budget: 64,
            tx_rounds: 16,
        }
    }
}

/// Errors from [`CoreStack::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackError {
    /// The ephemeral port configuration does not fit the steering table.
    Ports(PortConfigError),
    /// `bucket_bits` over 20, or a MAC that is not unicast.
    BadConfig,
}

/// What one [`CoreStack::poll`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PollReport {
    /// Frames processed from the RX queue or from other cores.
    pub rx_frames: usize,
    /// Buckets egressed.
    pub buckets_polled: usize,
}

struct Bucket {
    set: SocketSet<'static>,
    flows: Vec<(Tuple, u32)>,
    dirty: bool,
    armed: Option<i64>,
}

struct Listener {
    port: u16,
    /// Sockets in LISTEN in the listen set.
    ready: Vec<SocketHandle>,
    /// Established connections waiting for `accept`.
    accept: VecDeque<u32>,
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

struct Conn {
    bucket: u32,
    handle: SocketHandle,
    tuple: Tuple,
    origin: Origin,
    /// The application called `close`: free everything once smoltcp reaches CLOSED.
    closed: bool,
}

struct Slot {
    generation: u32,
    conn: Option<Conn>,
}

/// One core's stack. Owns its queue pair; shares nothing writable with other cores.
pub struct CoreStack<R: RxQueue, T: TxQueue> {
    cfg: StackConfig,
    dev: QueueDevice<R, T>,
    iface: Interface,
    buckets: Vec<Bucket>,
    dirty: Vec<u32>,
    listen_set: SocketSet<'static>,
    listeners: Vec<Listener>,
    dgram: SocketSet<'static>,
    void: SocketSet<'static>,
    slots: Vec<Slot>,
    free_slots: Vec<u32>,
    live: usize,
    ports: PortAllocator,
    wheel: Wheel,
    arp: Option<ArpPort>,
    counters: NetCounters,
    now: Instant,
    hash_key: u64,
}

impl<R: RxQueue, T: TxQueue> CoreStack<R, T> {
    /// A stack over queue pair (`rx`, `tx`), predicting steering with `rss`; `arp` links it
    /// to the other cores (see [`crate::arp::mesh`]). `now_us` is the platform's monotonic
    /// clock in microseconds.
    pub fn new(
        cfg: StackConfig,
        rss: &RssConfig,
        rx: R,
        tx: T,
        arp: Option<ArpPort>,
        now_us: u64,
    ) -> Result<Self, StackError> {
        let mac = EthernetAddress(cfg.mac);
        if cfg.bucket_bits > 20 || !mac.is_unicast() {
            return Err(StackError::BadConfig);
        }
        let queue = rx.queue_index();
        let ports = PortAllocator::new(rss, queue, cfg.ephemeral, cfg.time_wait_us, cfg.seed)
            .map_err(StackError::Ports)?;
        let mut dev = QueueDevice::new(rx, tx);
        let now = Instant::from_micros(now_us as i64);
        let mut icfg = IfaceConfig::new(HardwareAddress::Ethernet(mac));
        icfg.random_seed = cfg.seed;
        let mut iface = Interface::new(icfg, &mut dev, now);
        let [a, b, c, d] = cfg.ip;
        iface.update_ip_addrs(|addrs| {
            let _ = addrs.push(IpCidr::new(
                Ipv4Address::new(a, b, c, d).into(),
                cfg.prefix_len,
            ));
        });
        if let Some([a, b, c, d]) = cfg.gateway {
            let _ = iface
                .routes_mut()
                .add_default_ipv4_route(Ipv4Address::new(a, b, c, d));
        }
        let buckets = (0..1usize << cfg.bucket_bits)
            .map(|_| Bucket {
                set: SocketSet::new(vec![]),
                flows: Vec::new(),
                dirty: false,
                armed: None,
            })
            .collect();
        Ok(Self {
            hash_key: cfg.seed.rotate_left(17) ^ 0x5851_f42d_4c95_7f2d,
            cfg,
            dev,
            iface,
            buckets,
            dirty: Vec::new(),
            listen_set: SocketSet::new(vec![]),
            listeners: Vec::new(),
            dgram: SocketSet::new(vec![]),
            void: SocketSet::new(vec![]),
            slots: Vec::new(),
            free_slots: Vec::new(),
            live: 0,
            ports,
            wheel: Wheel::new(now.total_millis()),
            arp,
            counters: NetCounters::default(),
            now,
        })
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

    /// The adapter's counters.
    pub fn device_stats(&self) -> crate::device::DeviceStats {
        self.dev.stats()
    }

    /// One run-to-completion iteration at `now_us`: up to `rx_budget` received frames
    /// through the stack, then transmit for every bucket that needs it, then one doorbell.
    pub fn poll(&mut self, now_us: u64) -> PollReport {
        self.now = Instant::from_micros(now_us as i64);
        let now = self.now;
        let mut report = PollReport::default();
        let mut arp_seen = false;

        // Neighbors learnt by other cores first: our own transmissions may need them.
        while let Some(frame) = self.arp.as_mut().and_then(ArpPort::receive) {
            self.dev.inject(frame);
            self.iface
                .poll_ingress_single(now, &mut self.dev, &mut self.void);
            self.counters.arp_from_peers.inc();
            report.rx_frames += 1;
            arp_seen = true;
        }

        while report.rx_frames < self.cfg.rx_budget {
            let Some(frame) = self.dev.peek() else { break };
            let class = classify(frame);
            if class == Class::Arp
                && let Some(arp) = self.arp.as_mut()
            {
                let dropped = arp.broadcast(frame);
                self.counters.drop_arp_ring_full.add(dropped);
            }
            if self.ingress(class) == PollIngressSingleResult::None {
                break; // No TX buffer for a possible reply: leave the frame queued.
            }
            report.rx_frames += 1;
            arp_seen |= class == Class::Arp;
        }
        if report.rx_frames >= self.cfg.rx_budget && self.dev.peek().is_some() {
            self.counters.budget_exhausted.inc();
        }

        let mut due = Vec::new();
        self.wheel
            .advance(now.total_millis(), |b, at| due.push((b, at)));
        for (b, at) in due {
            if self.buckets[b as usize].armed == Some(at) {
                self.buckets[b as usize].armed = None;
                self.mark(b);
            }
        }
        if arp_seen {
            // Sockets silenced while waiting for a neighbor may go now. ARP is rare, so
            // this scan over buckets is not on the per-packet path.
            for b in 0..self.buckets.len() as u32 {
                if !self.buckets[b as usize].flows.is_empty() {
                    self.mark(b);
                }
            }
        }
        self.replenish();
        self.iface.poll_egress(now, &mut self.dev, &mut self.dgram);
        report.buckets_polled = self.egress_dirty();
        self.dev.flush();
        report
    }

    fn ingress(&mut self, class: Class) -> PollIngressSingleResult {
        let now = self.now;
        match class {
            Class::Tcp { tuple, syn, rst } => {
                if rst {
                    self.counters.resets_received.inc();
                }
                let b = self.bucket_of(&tuple);
                if self.buckets[b].flows.iter().any(|(t, _)| *t == tuple) {
                    let r = self.iface.poll_ingress_single(
                        now,
                        &mut self.dev,
                        &mut self.buckets[b].set,
                    );
                    self.mark(b as u32);
                    return r;
                }
                if syn {
                    return self.ingress_syn(tuple, b);
                }
                if !rst {
                    self.counters.drop_no_socket.inc();
                }
                self.iface
                    .poll_ingress_single(now, &mut self.dev, &mut self.void)
            }
            Class::Datagram => self
                .iface
                .poll_ingress_single(now, &mut self.dev, &mut self.dgram),
            Class::Arp => self
                .iface
                .poll_ingress_single(now, &mut self.dev, &mut self.void),
            Class::Other => {
                self.counters.drop_unknown.inc();
                self.dev.discard();
                PollIngressSingleResult::PacketProcessed
            }
        }
    }

    /// A SYN for no existing flow: to a listening socket if one is free and the core is
    /// under its limit, otherwise to no socket at all (smoltcp answers RST).
    fn ingress_syn(&mut self, tuple: Tuple, b: usize) -> PollIngressSingleResult {
        let now = self.now;
        let li = self
            .listeners
            .iter()
            .position(|l| l.port == tuple.local_port);
        let Some(li) = li.filter(|_| self.live < self.cfg.max_connections) else {
            // Not listening, or at the limit: no socket takes it and smoltcp answers RST.
            self.counters.refused.inc();
            return self
                .iface
                .poll_ingress_single(now, &mut self.dev, &mut self.void);
        };
        if self.listeners[li].ready.is_empty() {
            // Under the limit but this poll's backlog is used up: drop quietly, as Linux
            // does with a full SYN queue; the peer retransmits after we replenish.
            self.counters.drop_backlog_empty.inc();
            self.dev.discard();
            return PollIngressSingleResult::PacketProcessed;
        }
        let r = self
            .iface
            .poll_ingress_single(now, &mut self.dev, &mut self.listen_set);
        // At most one listening socket changed state: find it among this port's few.
        let listener = &mut self.listeners[li];
        let moved = listener.ready.iter().position(|&h| {
            let s = self.listen_set.get::<smoltcp::socket::tcp::Socket>(h);
            s.state() != smoltcp::socket::tcp::State::Listen
        });
        if let Some(i) = moved {
            let h = listener.ready.swap_remove(i);
            let socket = self.listen_set.remove(h);
            let port = listener.port;
            self.insert_conn(b, tuple, socket, Origin::Embryonic(port));
        }
        r
    }

    fn insert_conn(
        &mut self,
        b: usize,
        tuple: Tuple,
        socket: impl smoltcp::socket::AnySocket<'static>,
        origin: Origin,
    ) -> TcpConn {
        let handle = self.buckets[b].set.add(socket);
        let conn = Conn {
            bucket: b as u32,
            handle,
            tuple,
            origin,
            closed: false,
        };
        let idx = match self.free_slots.pop() {
            Some(i) => {
                self.slots[i as usize].conn = Some(conn);
                i
            }
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    conn: Some(conn),
                });
                self.slots.len() as u32 - 1
            }
        };
        self.buckets[b].flows.push((tuple, idx));
        self.live += 1;
        self.mark(b as u32);
        TcpConn {
            index: idx,
            generation: self.slots[idx as usize].generation,
        }
    }

    fn remove_conn(&mut self, idx: u32) {
        let Some(slot) = self.slots.get_mut(idx as usize) else {
            return;
        };
        let Some(conn) = slot.conn.take() else { return };
        slot.generation = slot.generation.wrapping_add(1);
        self.free_slots.push(idx);
        self.live -= 1;
        let bucket = &mut self.buckets[conn.bucket as usize];
        bucket.set.remove(conn.handle);
        bucket.flows.retain(|&(_, i)| i != idx);
        if conn.origin == Origin::Connected {
            let _ = self
                .ports
                .release(conn.tuple.local_port, self.now.total_micros() as u64);
        }
    }

    fn bucket_of(&self, t: &Tuple) -> usize {
        classify::bucket_of(t, self.hash_key, self.cfg.bucket_bits)
    }

    fn mark(&mut self, b: u32) {
        let bucket = &mut self.buckets[b as usize];
        if !bucket.dirty {
            bucket.dirty = true;
            self.dirty.push(b);
        }
    }

    /// Transmits for every dirty bucket, settles its connections and re-arms its timer.
    fn egress_dirty(&mut self) -> usize {
        let now = self.now;
        let list = core::mem::take(&mut self.dirty);
        let n = list.len();
        let mut again = Vec::new();
        for &b in &list {
            let bucket = &mut self.buckets[b as usize];
            bucket.dirty = false;
            let mut rounds = 0;
            while rounds < self.cfg.tx_rounds
                && self.iface.poll_egress(now, &mut self.dev, &mut bucket.set)
                    == PollResult::SocketStateChanged
            {
                rounds += 1;
            }
            self.settle(b);
            let bucket = &mut self.buckets[b as usize];
            match self.iface.poll_at(now, &bucket.set) {
                Some(at) if at <= now => again.push(b),
                Some(at) => {
                    let at = at.total_millis();
                    if bucket.armed.is_none_or(|a| at < a) {
                        bucket.armed = Some(at);
                        self.wheel.arm(b, at);
                    }
                }
                None => {}
            }
        }
        let mut reuse = list;
        reuse.clear();
        self.dirty = reuse;
        for b in again {
            self.mark(b);
        }
        n
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_api;
