//! The appliance: HTTP/1.1 on port 80 and echo on port 7, on every core.
//!
//! - `GET /` serves a page built into the image; `/metrics` serves Prometheus text with
//!   per-core and per-queue counters and heap use; other paths are 404, other methods 405,
//!   malformed requests 400, oversized ones 413/431. Keep-alive and pipelining per RFC 9112.
//! - TCP echo on port 7 (with back-pressure: bytes are read only when they can be queued
//!   back) and UDP echo on port 7 (replies rate-limited per core).
//! - Against slow and greedy clients: bounded buffers charged to a per-core pool (a
//!   connection that would overdraw it is reset, a new one answered 503), header, idle and
//!   send timeouts, and eviction of the longest-idle connection near the connection limit
//!   (see `corenet_httpd::serve` and `corenet_http::{budget, timers, settings}`).
//!
//! Every core runs the same loop on its own stack; RSS (or the single-queue software
//! fallback) decides which core serves a connection. Command-line keys: `ip=` / `gw=` (or
//! `ip=dhcp`), corenet's own (`log=`, `heap=`, `tcpbuf=`, ...), and httpd's own
//! (`http_header_timeout=`, `http_idle_timeout=`, `http_send_timeout=`, `udp_echo_rate=`,
//! `udp_echo_burst=`: see `corenet_http::settings`).

use core::sync::atomic::Ordering;
use corenet::budget::AppMemory;
use corenet::kernel::boot::boot_fail;
use corenet::network::Network;
use corenet::{Appliance, Core, Step};
use corenet_http::settings::Settings;
use corenet_http::{Request, Response, Status};
use corenet_httpd::serve;

use crate::metrics;

static INDEX: &[u8] = include_bytes!("../static/index.html");

struct Httpd {
    /// `None` on a core that got no queue (a single-queue NIC before software steering).
    net: Option<Network>,
    server: Option<serve::Server>,
    next_publish_ns: u64,
    next_states_ns: u64,
    next_debug_ns: u64,
    polls_since: u64,
}

impl Httpd {
    fn idle() -> Self {
        Httpd {
            net: None,
            server: None,
            next_publish_ns: 0,
            next_states_ns: 0,
            next_debug_ns: 0,
            polls_since: 0,
        }
    }
}

fn route(core: usize, r: &Request<'_>) -> Response {
    match r.path() {
        "/" | "/index.html" => Response::new(Status::Ok, "text/html; charset=utf-8", INDEX),
        "/metrics" => metrics::page(core),
        _ => Response::error(Status::NotFound),
    }
}

impl Appliance for Httpd {
    const NAME: &'static str = "httpd";

    fn init(core: &mut Core) -> Self {
        let cmdline = core.cmdline();
        let settings = Settings::parse(&|k| cmdline.get(k))
            .unwrap_or_else(|e| boot_fail(format_args!("httpd: {}= takes {}", e.key, e.expected)));
        let app = AppMemory {
            per_connection: serve::PER_CONNECTION,
            listen_ports: 2,
        };
        let Some(mut net) = Network::start_or_stop(core, &app, Self::NAME) else {
            return Httpd::idle();
        };
        let s = &mut net.stack;
        s.listen(80).unwrap_or_else(|e| panic!("listen 80: {e:?}"));
        s.listen(7).unwrap_or_else(|e| panic!("listen 7: {e:?}"));
        let udp = s.udp_bind(7).ok();
        if core.id() == 0
            && let Some(c) = s.ipv4_config()
        {
            corenet::log::info!(
                "httpd: serving http://{}.{}.{}.{}/ and echo on port 7 (tcp+udp) from {} cores",
                c.ip[0],
                c.ip[1],
                c.ip[2],
                c.ip[3],
                core.count()
            );
            let t = settings.timeouts;
            corenet::log::info!(
                "httpd: timeouts header {} s, idle {} s, send {} s; udp echo {}/s per core (burst {})",
                t.header_ns / 1_000_000_000,
                t.idle_ns / 1_000_000_000,
                t.send_ns / 1_000_000_000,
                settings.udp_echo_rate,
                settings.udp_echo_burst
            );
        }
        let server = serve::Server::new(
            settings,
            udp,
            net.plan.max_connections,
            net.plan.app_pool as usize,
            core.now_ns(),
        );
        Httpd {
            net: Some(net),
            server: Some(server),
            ..Httpd::idle()
        }
    }

    fn poll(&mut self, core: &mut Core) -> Step {
        let Some(net) = self.net.as_mut() else {
            return Step::Idle;
        };
        let Some(server) = self.server.as_mut() else {
            return Step::Idle;
        };
        let report = net.poll(core);
        let id = core.id();
        let now = core.now_ns();
        let heap = &corenet::kernel::cpu::this().heap;
        let heap_free = heap
            .size()
            .saturating_sub(heap.used.load(Ordering::Relaxed) as usize);
        let moved = server.poll(&mut net.stack, now, heap_free, &mut |req| route(id, req));
        let work = report.rx_frames > 0 || moved;
        if now >= self.next_publish_ns {
            self.next_publish_ns = now + 100_000_000;
            let recount = now >= self.next_states_ns;
            if recount {
                self.next_states_ns = now + 1_000_000_000;
            }
            let conns = server.http.len() + server.echo.len();
            metrics::publish(core, net, conns, server.stats, recount);
            if now >= self.next_debug_ns {
                self.next_debug_ns = now + 2_000_000_000;
                let (rx, tx) = net.stack.queue_counters();
                corenet::log::debug!(
                    "httpd: polls={} rx={} tx={} tx_drops={} stack_conns={} http={} echo={}",
                    self.polls_since,
                    rx.packets.get(),
                    tx.packets.get(),
                    tx.drops.get(),
                    net.stack.connections(),
                    server.http.len(),
                    server.echo.len()
                );
                self.polls_since = 0;
            }
        }
        self.polls_since += 1;
        if work { Step::Busy } else { Step::Idle }
    }

    /// Every source of work can wake this core (see `Network::next_deadline_ns`).
    fn arm_wakeups(&mut self, _core: &mut Core) -> bool {
        true
    }

    /// The stack's next timer, the NIC poll interval, and the next metrics publication (which
    /// also bounds how late the server's header, idle and send timeouts are seen: 100 ms).
    fn next_deadline_ns(&mut self, core: &mut Core) -> Option<u64> {
        let net = self.net.as_mut()?;
        let at = net.next_deadline_ns(core).unwrap_or(u64::MAX);
        Some(at.min(self.next_publish_ns))
    }
}

corenet::appliance!(Httpd);
