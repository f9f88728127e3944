//! The appliance: RESP2 on TCP port 6379 (`kv_port=`), on every core.
//!
//! Keys are partitioned across cores by hash (`corenet_kv::route::owner`); each core holds
//! its part in its own store, and a command on another core's key goes to that core over a
//! per-core-pair ring and its reply comes back, in order with the connection's other replies.
//! Connections are bounded like httpd's: request size, pipelined output, buffers charged to
//! the core's pool, header (partial command) and send deadlines.
//!
//! Command-line keys: corenet's own (`ip=`, `gw=`, `log=`, `heap=`, `tcpbuf=`, ...) and
//! `kv_maxmemory=`, `kv_policy=`, `kv_port=`, `kv_idle_timeout=` (see `corenet_kv::settings`).

use alloc::vec::Vec;

use corenet::prelude::*;
use corenet_http::timers::{SECOND, Timeouts};
use corenet_kv::links::{self, Links};
use corenet_kv::node::Node;
use corenet_kv::serve::{self, Server};
use corenet_kv::settings::Settings;
use corenet_kv::store::Store;
use spin::{Mutex, Once};

/// Every core's ends of the rings, each taken once by its core at start-up (the only lock,
/// never on the request path).
static LINKS: Once<Vec<Mutex<Option<Links<'static>>>>> = Once::new();

/// Sixteenths of each core's heap for connections ([`AppMemory::connection_share`]).
const KV_CONNECTION_SHARE: u8 = 4;

/// The free heap a core keeps for what is promised elsewhere: its reserve, and the sockets
/// and state of the connections it may still accept. Under it the keys may not grow
/// ([`Store::set_heap_low`]), whatever their estimate says.
#[derive(Debug, Clone, Copy)]
struct HeapFloor {
    reserve: u64,
    per_connection: u64,
    max_connections: usize,
}

impl HeapFloor {
    /// The floor with `held` connections in the stack (each already paid for).
    fn bytes(&self, held: usize) -> u64 {
        let unopened = self.max_connections.saturating_sub(held) as u64;
        self.reserve + unopened * self.per_connection
    }
}

struct Kv {
    net: Option<Network>,
    server: Server,
    floor: Option<HeapFloor>,
    /// INFO's copy of the stack's counters is refreshed at this rate.
    counters: Every,
}

impl Appliance for Kv {
    const NAME: &'static str = "kv";

    fn init(core: &mut Core) -> Self {
        let cmdline = core.cmdline();
        let settings = Settings::parse(&|k| cmdline.get(k))
            .unwrap_or_else(|e| boot_fail(format_args!("kv: {}= takes {}", e.key, e.expected)));
        let cores = core.count();
        let links = if cores > 1 {
            let all = LINKS.call_once(|| {
                links::links(cores)
                    .into_iter()
                    .map(|l| Mutex::new(Some(l)))
                    .collect()
            });
            let mut mine = all.get(core.id()).and_then(|m| m.lock().take());
            // A core that posts to another's ring wakes it if it halted.
            if let Some(l) = mine.as_mut() {
                l.set_wake(wake_core);
            }
            mine
        } else {
            None
        };
        let app = AppMemory {
            per_connection: serve::PER_CONNECTION,
            listen_ports: 1,
            // A quarter of the heap for connections (Redis gives its keys all the memory
            // it has): about 770 connections of 16 KiB buffers per 128 MiB of heap
            // (`tcpbuf=4K`: about 2.5 times as many), the keys about half the heap.
            connection_share: KV_CONNECTION_SHARE,
        };
        let mut net = Network::start_or_stop(core, &app, Self::NAME);
        // The keys get three quarters of the appliance pool (or of the free heap on a core
        // without a network), the connections' buffers the rest; kv_maxmemory= caps it.
        let room = match &net {
            Some(n) => n.plan.app_pool as usize,
            None => heap_free() / 2,
        };
        let mut limit = room / 4 * 3;
        if let Some(m) = settings.maxmemory {
            limit = limit.min((m / cores as u64) as usize);
        }
        let buffers = room - limit;
        let mut node = Node::new(core.id(), cores, limit, settings.policy, core.seed());
        // The keys' hash gets a seed of its own: SPOP's generator, seeded above, shows its
        // state to clients, and the hash key must stay secret (colliding keys share a bucket).
        node.store = Store::seeded(limit, settings.policy, core.seed());
        let timeouts = Timeouts {
            header_ns: 30 * SECOND,
            idle_ns: settings.idle_timeout_s * SECOND,
            send_ns: 60 * SECOND,
        };
        let (max_conns, stack) = match net.as_mut() {
            Some(n) => (n.plan.max_connections, Some(n.sockets())),
            None => (0, None),
        };
        if let Some(s) = stack {
            s.listen(settings.port)
                .unwrap_or_else(|e| boot_fail(format_args!("kv: listen {}: {e}", settings.port)));
            if core.id() == 0
                && let Some(c) = s.ipv4_config()
            {
                log::info!(
                    "kv: serving redis://{}:{} from {} cores; {} key bytes per core ({:?}), {} connections per core",
                    IpAddr::V4(c.ip),
                    settings.port,
                    cores,
                    limit,
                    settings.policy,
                    max_conns
                );
            }
        }
        let server = Server::new(node, links, settings.port, max_conns, buffers, timeouts);
        let floor = net.as_ref().map(|n| HeapFloor {
            reserve: n.plan.reserve,
            per_connection: n.plan.per_socket + serve::PER_CONNECTION as u64,
            max_connections: n.plan.max_connections,
        });
        Kv {
            net,
            server,
            floor,
            counters: Every::new(Duration::from_millis(100)),
        }
    }

    fn poll(&mut self, core: &mut Core) -> Step {
        let now = core.now_ns();
        self.server.node.info.uptime_ms = now / 1_000_000;
        let work = match self.net.as_mut() {
            Some(net) => {
                let server = &mut self.server;
                let free = heap_free();
                server.node.info.heap_free = free as u64;
                // What the core keeps for others (its reserve, the connections it may still
                // accept, counted from the stack's held connections, closing ones included):
                // the keys may not grow into it, and buffers and replies for other cores may
                // not spend it.
                let held = net.sockets().connections();
                let floor = self.floor.map_or(0, |f| f.bytes(held));
                server.node.store.set_heap_low((free as u64) < floor);
                let room = (free as u64).saturating_sub(floor) as usize;
                let work = net.pass(core, |s| server.poll(s, now, room));
                if self.counters.due(now) {
                    let c = net.sockets().counters().snapshot();
                    self.server.node.info.net = [
                        c.accepted,
                        c.refused,
                        c.resets_received,
                        c.drop_no_socket,
                        c.drop_backlog_empty,
                        c.syncookies_sent,
                    ];
                }
                work
            }
            None => {
                // A core without a queue holds keys and answers other cores' parts; it keeps
                // a sixteenth of its free heap (at least 1 MiB) for the rest.
                let free = heap_free();
                let keep = (free / 16).max(1 << 20);
                self.server.node.info.heap_free = free as u64;
                self.server.node.store.set_heap_low(free < keep);
                self.server.set_heap_room(free.saturating_sub(keep));
                self.server.poll_remote(now)
            }
        };
        if work { Step::Busy } else { Step::Idle }
    }

    /// Every source of work can wake this core: the NIC (`Network::next_deadline_ns` arms
    /// it), the other cores' rings (they send the wake-up IPI after posting, see
    /// `Links::set_wake`), timers (below).
    fn arm_wakeups(&mut self, _core: &mut Core) -> bool {
        true
    }

    /// The stack's next timer and the NIC poll interval, and INFO's counters, which also
    /// bound how late the connections' deadlines and the expiry sweep run (100 ms); a core
    /// without a NIC queue has no timer (the kernel's longest halt bounds its sweep).
    fn next_deadline_ns(&mut self, core: &mut Core) -> Option<u64> {
        let net = self.net.as_mut()?;
        let at = net.next_deadline_ns(core).unwrap_or(u64::MAX);
        Some(at.min(self.counters.deadline_ns()))
    }
}

corenet::appliance!(Kv);
