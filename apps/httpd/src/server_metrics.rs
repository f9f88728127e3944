//! `/metrics` families for httpd's defences: timeouts, evictions, 503s, shed connections,
//! UDP echo drops and the buffer pool (kept apart from the stack's counters in `metrics.rs`).

use corenet_http::metrics::{Kind, Metrics};

use corenet_httpd::serve::Stats;

type Field = fn(&Stats) -> u64;

const COUNTERS: &[(&str, &str, Field)] = &[
    (
        "corenet_http_unavailable_total",
        "Connections answered 503 and closed because the buffer pool was short.",
        |s| s.unavailable,
    ),
    (
        "corenet_conn_shed_total",
        "Connections reset because a buffer could not grow within the budget.",
        |s| s.shed,
    ),
    (
        "corenet_app_connection_visits_total",
        "Connection visits by the server's passes (those with news, and the deadline sweep).",
        |s| s.visits,
    ),
    (
        "corenet_udp_echo_dropped_total",
        "UDP echo replies not sent (per-core rate limit).",
        |s| s.udp_echo_dropped,
    ),
];

const EVICTIONS: &[(&str, Field)] = &[("idle", |s| s.evictions), ("slow", |s| s.evictions_slow)];

const TIMEOUTS: &[(&str, Field)] = &[
    ("header", |s| s.header_timeouts),
    ("idle", |s| s.idle_timeouts),
    ("send", |s| s.send_timeouts),
];

const GAUGES: &[(&str, &str, Field)] = &[
    (
        "corenet_app_buffer_bytes",
        "Connection buffer bytes charged to the core's pool.",
        |s| s.pool_used,
    ),
    (
        "corenet_app_buffer_limit_bytes",
        "The core's connection buffer pool (from the memory budget).",
        |s| s.pool_limit,
    ),
];

/// Appends the families, one sample per core.
pub fn families<'a>(m: &mut Metrics, cores: impl Iterator<Item = (usize, &'a Stats)> + Clone) {
    m.family(
        "corenet_http_timeouts_total",
        Kind::Counter,
        "Connections ended by a deadline: header (reset), idle (closed), send (reset).",
    );
    for (c, s) in cores.clone() {
        for (reason, f) in TIMEOUTS {
            m.sample(
                "corenet_http_timeouts_total",
                &[("core", &c), ("reason", reason)],
                f(s),
            );
        }
    }
    m.family(
        "corenet_http_evictions_total",
        Kind::Counter,
        "Connections reset near the connection limit to make room for new ones: idle ones \
         first, else those whose request is overdue or whose output stalled (slow); also \
         those holding the most buffer when the pool is short (slow).",
    );
    for (c, s) in cores.clone() {
        for (kind, f) in EVICTIONS {
            m.sample(
                "corenet_http_evictions_total",
                &[("core", &c), ("kind", kind)],
                f(s),
            );
        }
    }
    for (name, help, f) in COUNTERS {
        m.family(name, Kind::Counter, help);
        for (c, s) in cores.clone() {
            m.sample(name, &[("core", &c)], f(s));
        }
    }
    for (name, help, f) in GAUGES {
        m.family(name, Kind::Gauge, help);
        for (c, s) in cores.clone() {
            m.sample(name, &[("core", &c)], f(s));
        }
    }
}
