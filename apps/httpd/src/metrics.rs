//! `/metrics`: every core publishes a snapshot of its counters every 100 ms into its own slot;
//! the core serving `/metrics` reads all slots. Nothing here is on the per-packet path.
//!
//! Everything comes through the API, nothing from `corenet::raw`: the stack's and queues'
//! counters from the core's `Network`, the machine-wide families (cores, uptime, heap, idle
//! accounting) from `corenet::metrics::machine`, and what httpd registered itself
//! (`corenet_app_connections`, a gauge per core) from `corenet::metrics::render`.

use corenet::metrics::{CounterSnapshot, MAX_CORES, TCP_STATES};
use corenet::prelude::*;
use corenet_http::Response;
use corenet_http::metrics::{Kind, Metrics};
use corenet_http::response::{Body, Status};
use spin::Mutex;

#[derive(Clone, Copy)]
struct Snapshot {
    queue: u16,
    net: NetSnapshot,
    rx: CounterSnapshot,
    tx: CounterSnapshot,
    stack_connections: usize,
    states: [usize; TCP_STATES.len()],
    /// httpd's own counters (slow and greedy clients, buffer pool): see `server_metrics`.
    server: corenet_httpd::serve::Stats,
    /// The software distributor's, on the core that runs it.
    soft: Option<corenet::network::SoftCounters>,
}

static SLOTS: [Mutex<Option<Snapshot>>; MAX_CORES] = [const { Mutex::new(None) }; MAX_CORES];

/// Copies this core's counters into its slot (owner core only). The per-state connection
/// counts visit every connection, so they are recounted only when `recount_states` is set
/// (the caller does it once a second) and carried over otherwise.
pub fn publish(
    core: &Core,
    net: &Network,
    server: corenet_httpd::serve::Stats,
    recount_states: bool,
) {
    let (rx, tx) = net.stack.queue_counters();
    let mut slot = SLOTS[core.id()].lock();
    let states = match (recount_states, slot.as_ref()) {
        (false, Some(prev)) => prev.states,
        _ => net.stack.connection_states(),
    };
    let snap = Snapshot {
        queue: net.stack.queue(),
        net: net.stack.counters().snapshot(),
        rx: rx.snapshot(),
        tx: tx.snapshot(),
        stack_connections: net.stack.connections(),
        states,
        server,
        soft: net.soft_counters(),
    };
    *slot = Some(snap);
}

type Field = fn(&Snapshot) -> u64;

const QUEUE: &[(&str, &str, Field)] = &[
    (
        "corenet_rx_packets_total",
        "Frames received on the core's queue.",
        |s| s.rx.packets,
    ),
    (
        "corenet_rx_bytes_total",
        "Bytes received on the core's queue.",
        |s| s.rx.bytes,
    ),
    (
        "corenet_rx_drops_total",
        "Receive frames dropped by the driver.",
        |s| s.rx.drops,
    ),
    (
        "corenet_rx_errors_total",
        "Bad completions from the device (counted, dropped).",
        |s| s.rx.errors,
    ),
    (
        "corenet_rx_doorbells_total",
        "Receive doorbells (one per burst).",
        |s| s.rx.doorbells,
    ),
    (
        "corenet_tx_packets_total",
        "Frames sent on the core's queue.",
        |s| s.tx.packets,
    ),
    (
        "corenet_tx_bytes_total",
        "Bytes sent on the core's queue.",
        |s| s.tx.bytes,
    ),
    (
        "corenet_tx_drops_total",
        "Transmit frames dropped by the driver.",
        |s| s.tx.drops,
    ),
    (
        "corenet_tx_errors_total",
        "Bad transmit completions from the device.",
        |s| s.tx.errors,
    ),
    (
        "corenet_tx_doorbells_total",
        "Transmit doorbells (one per burst).",
        |s| s.tx.doorbells,
    ),
];

const CORE_COUNTERS: &[(&str, &str, Field)] = &[
    ("corenet_tcp_accepted_total", "Connections accepted.", |s| {
        s.net.accepted
    }),
    (
        "corenet_tcp_connected_total",
        "Active opens established.",
        |s| s.net.connected,
    ),
    (
        "corenet_tcp_refused_total",
        "SYNs refused at the connection limit (RST sent).",
        |s| s.net.refused,
    ),
    (
        "corenet_tcp_resets_received_total",
        "Connections reset by the peer.",
        |s| s.net.resets_received,
    ),
    (
        "corenet_tcp_retransmissions_total",
        "TCP segments retransmitted.",
        |s| s.net.retransmissions,
    ),
    (
        "corenet_frames_from_other_cores_total",
        "Frames forwarded by other cores (ARP, DHCP).",
        |s| s.net.frames_from_peers,
    ),
    (
        "corenet_rx_budget_exhausted_total",
        "Polls that stopped at the receive budget.",
        |s| s.net.budget_exhausted,
    ),
    // --- issue 11, SYN floods (half-open set, SYN cookies) ---
    (
        "corenet_tcp_syncookies_sent_total",
        "SYN-ACKs with a SYN cookie sent (SYNs past the port's half-open budget).",
        |s| s.net.syncookies_sent,
    ),
    (
        "corenet_tcp_syncookies_validated_total",
        "Connections made from a valid SYN cookie ACK.",
        |s| s.net.syncookies_validated,
    ),
    (
        "corenet_tcp_syncookies_rejected_total",
        "ACKs with an invalid or expired SYN cookie (answered with RST).",
        |s| s.net.syncookies_rejected,
    ),
    (
        "corenet_tcp_half_open_evicted_total",
        "Half-open connections evicted (oldest first) at the core's half-open bound.",
        |s| s.net.half_open_evicted,
    ),
    (
        "corenet_tcp_syn_dropped_tx_full_total",
        "SYNs past the half-open budget dropped: no TX buffer for the cookie SYN-ACK.",
        |s| s.net.syn_drop_tx_full,
    ),
    // guard (issue 11: gateways, neighbors, ICMP rate limit, mesh config delivery)
    (
        "corenet_bad_gateway_total",
        "Gateways refused: not a unicast address on the subnet.",
        |s| s.net.bad_gateway,
    ),
    (
        "corenet_dhcp_bad_router_total",
        "DHCP leases ignored for a router that is not a unicast address on the subnet.",
        |s| s.net.dhcp_bad_router,
    ),
    (
        "corenet_neighbor_ignored_total",
        "ARP and NDP frames dropped: not for us, not about a known neighbor.",
        |s| s.net.neighbor_ignored,
    ),
    (
        "corenet_icmp_rate_limited_total",
        "ICMP errors and echo replies dropped by the per-core rate limit.",
        |s| s.net.icmp_rate_limited,
    ),
    (
        "corenet_config_resent_total",
        "IP configurations sent again to a core whose mesh ring was full.",
        |s| s.net.config_resent,
    ),
    // review (issue 11: DHCP servers that cannot be one)
    (
        "corenet_dhcp_bad_server_total",
        "DHCP offers and acks dropped: their IP source cannot be a server (0/8, 127/8, multicast, reserved).",
        |s| s.net.dhcp_bad_server,
    ),
    // tcp2 (issue 12 item 3: per-listener TCP buffers)
    (
        "corenet_tcp_port_buffer_fallback_total",
        "Connections on a tcpbuf_port= port given tcpbuf= buffers: the core's budget for larger ones was spent.",
        |s| s.net.port_buffer_fallback,
    ),
    (
        "corenet_tcp_path_sized_total",
        "Connections whose TCP buffers grew to their handshake's round trip x rate (tcpbuf_auto=).",
        |s| s.net.path_sized,
    ),
    // longpath (issue 12: loss events, counted as connections are freed)
    (
        "corenet_tcp_recoveries_total",
        "Loss recovery episodes (fast retransmit on duplicate ACKs or SACKed data) of closed connections.",
        |s| s.net.tcp_recoveries,
    ),
    (
        "corenet_tcp_loss_probes_total",
        "Tail loss probes sent by closed connections.",
        |s| s.net.tcp_loss_probes,
    ),
    (
        "corenet_tcp_rtos_total",
        "Retransmission timeouts of closed connections.",
        |s| s.net.tcp_rtos,
    ),
    // hystart (issue 12: slow start's exit, counted as connections close)
    (
        "corenet_tcp_hystart_rises_total",
        "Rounds of closed connections whose round trip rose past HyStart++'s threshold.",
        |s| s.net.tcp_hystart_rises,
    ),
    (
        "corenet_tcp_hystart_exits_total",
        "Slow starts of closed connections that HyStart++ ended before a loss.",
        |s| s.net.tcp_hystart_exits,
    ),
    // sndbuf (issue 12: send buffers grown while they limit a bulk sender)
    (
        "corenet_tcp_sndbuf_grown_total",
        "Send buffers doubled (up to tcpbuf_auto=) because the buffer, not the windows, bounded the flight.",
        |s| s.net.sndbuf_grown,
    ),
    (
        "corenet_tcp_sndbuf_fallback_total",
        "Send buffer growths refused: the core's buffer budget was spent or the heap had no block that large.",
        |s| s.net.sndbuf_fallback,
    ),
];

const DROPS: &[(&str, Field)] = &[
    ("backlog_empty", |s| s.net.drop_backlog_empty),
    ("embryonic", |s| s.net.embryonic_dropped),
    ("no_socket", |s| s.net.drop_no_socket),
    ("unknown", |s| s.net.drop_unknown),
    ("mesh_full", |s| s.net.drop_mesh_full),
];

type SoftField = fn(&corenet::network::SoftCounters) -> u64;

const SOFT: &[(&str, &str, SoftField)] = &[
    (
        "corenet_soft_rx_held_total",
        "Distributor passes that left received frames in the hardware queue: a core's software ring was full (back-pressure, not loss).",
        |s| s.rx_held,
    ),
    (
        "corenet_soft_rx_hold_overloaded_total",
        "Holds not begun because the full core was running but overloaded: frames for it were dropped instead for 100 ms.",
        |s| s.rx_hold_overloaded,
    ),
    (
        "corenet_soft_rx_ring_full_drops_total",
        "Frames the distributor dropped because their core's software ring was full.",
        |s| s.drop_ring_full,
    ),
];

/// The `/metrics` page for a machine of `cores` cores.
pub fn page(cores: usize) -> Response {
    let snaps: heapless::Vec<(usize, Snapshot), MAX_CORES> = (0..cores.min(MAX_CORES))
        .filter_map(|c| SLOTS[c].lock().map(|s| (c, s)))
        .collect();
    let mut m = Metrics::new();
    for (name, help, f) in QUEUE {
        m.family(name, Kind::Counter, help);
        for (c, s) in &snaps {
            m.sample(name, &[("core", c), ("queue", &s.queue)], f(s));
        }
    }
    for (name, help, f) in CORE_COUNTERS {
        m.family(name, Kind::Counter, help);
        for (c, s) in &snaps {
            m.sample(name, &[("core", c)], f(s));
        }
    }
    m.family(
        "corenet_drops_total",
        Kind::Counter,
        "Frames dropped by the stack, by reason.",
    );
    for (reason, f) in DROPS {
        for (c, s) in &snaps {
            m.sample(
                "corenet_drops_total",
                &[("core", c), ("reason", reason)],
                f(s),
            );
        }
    }
    // The software queues of a single-queue NIC: only the distributing core has samples.
    for (name, help, f) in SOFT {
        m.family(name, Kind::Counter, help);
        for (c, s) in &snaps {
            if let Some(soft) = &s.soft {
                m.sample(name, &[("core", c)], f(soft));
            }
        }
    }
    crate::server_metrics::families(&mut m, snaps.iter().map(|(c, s)| (*c, &s.server)));
    m.family(
        "corenet_tcp_connections_active",
        Kind::Gauge,
        "Connections held by the stack.",
    );
    for (c, s) in &snaps {
        m.sample(
            "corenet_tcp_connections_active",
            &[("core", c)],
            s.stack_connections as u64,
        );
    }
    m.family(
        "corenet_tcp_connections",
        Kind::Gauge,
        "Connections held by the stack, by TCP state (recounted every second).",
    );
    for (c, s) in &snaps {
        for (state, n) in TCP_STATES.iter().zip(s.states) {
            m.sample(
                "corenet_tcp_connections",
                &[("core", c), ("state", state)],
                n as u64,
            );
        }
    }
    let mut out = m.finish();
    // Cores, uptime, heap and idle accounting (issue 16), then the families registered
    // through `corenet::metrics` (httpd's connection gauge).
    corenet::metrics::machine(&mut out);
    corenet::metrics::render(&mut out, cores);
    Response {
        status: Status::Ok,
        content_type: "text/plain; version=0.0.4; charset=utf-8",
        body: Body::Owned(out),
        extra: None,
    }
}
