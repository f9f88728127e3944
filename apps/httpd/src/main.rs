//! corenet's default appliance: HTTP/1.1 on port 80 and echo on port 7, on every core.
//!
//! - `GET /` serves a page built into the image; `/metrics` serves Prometheus text with
//!   per-core and per-queue counters and heap use; other paths are 404, other methods 405,
//!   malformed requests 400, oversized ones 413/431. Keep-alive and pipelining per RFC 9112.
//! - TCP echo on port 7 (with back-pressure: bytes are read only when they can be queued
//!   back) and UDP echo on port 7.
//!
//! Every core runs the same loop on its own stack; RSS (or the single-queue software
//! fallback) decides which core serves a connection. Command-line keys: `ip=` / `gw=` (or
//! `ip=dhcp`), plus corenet's own (`log=`, `heap=`, ...).
#![no_std]
#![no_main]

extern crate alloc;

mod metrics;

use alloc::vec::Vec;
use corenet::network::{NetStartError, Network};
use corenet::{Appliance, Core, Step};
use corenet_http::{Conn, Limits, Request, Response, Status};
use corenet_net::stack::{RecvError, TcpConn, UdpSocket};

use corenet::net as corenet_net;

static INDEX: &[u8] = include_bytes!("../static/index.html");

/// Echo bytes buffered per connection at most (reading stops beyond).
const ECHO_BUFFER: usize = 64 * 1024;

struct Httpd {
    /// `None` on a core that got no queue (a single-queue NIC before software steering).
    net: Option<Network>,
    http: Vec<(TcpConn, Conn)>,
    echo: Vec<(TcpConn, Vec<u8>, bool)>,
    udp: Option<UdpSocket>,
    limits: Limits,
    next_publish_ns: u64,
    next_states_ns: u64,
    next_debug_ns: u64,
    polls_since: u64,
}

impl Httpd {
    fn idle() -> Self {
        Httpd {
            net: None,
            http: Vec::new(),
            echo: Vec::new(),
            udp: None,
            limits: Limits::default(),
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
        let mut net = match Network::start(core) {
            Ok(n) => n,
            Err(NetStartError::NoQueue) => {
                corenet::log::warn!(
                    "httpd: core {} has no NIC queue; it serves nothing",
                    core.id()
                );
                return Httpd::idle();
            }
            Err(e) => panic!("core {}: network: {e:?}", core.id()),
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
        }
        Httpd {
            net: Some(net),
            udp,
            ..Httpd::idle()
        }
    }

    fn poll(&mut self, core: &mut Core) -> Step {
        let Some(net) = self.net.as_mut() else {
            return Step::Idle;
        };
        let report = net.poll(core);
        let mut work = report.rx_frames > 0;
        let stack = &mut net.stack;
        while let Ok(c) = stack.accept(80) {
            self.http.push((c, Conn::new()));
            work = true;
        }
        while let Ok(c) = stack.accept(7) {
            self.echo.push((c, Vec::new(), false));
            work = true;
        }
        let id = core.id();
        let limits = self.limits;
        self.http.retain_mut(|(c, conn)| {
            let room = conn.input_room(&limits);
            if room > 0 {
                let r = stack.recv_with(*c, |data| {
                    let n = data.len().min(room);
                    conn.on_input(&data[..n], &limits, &mut |req| route(id, req));
                    n
                });
                match r {
                    Ok(_) => work = true,
                    Err(RecvError::WouldBlock) => {}
                    Err(RecvError::Finished) => conn.peer_closed(),
                    Err(RecvError::Closed | RecvError::BadHandle) => {
                        // Reset or gone: closing the handle is what frees its slot.
                        let _ = stack.close(*c);
                        return false;
                    }
                }
            }
            while !conn.output().is_empty() {
                match stack.send(*c, conn.output()) {
                    Ok(n) => {
                        conn.consumed(n);
                        work = true;
                    }
                    Err(corenet_net::stack::SendError::WouldBlock) => break,
                    Err(_) => {
                        let _ = stack.close(*c);
                        return false;
                    }
                }
            }
            if conn.done() {
                let _ = stack.close(*c);
                return false;
            }
            true
        });
        self.echo.retain_mut(|(c, pending, peer_done)| {
            if !*peer_done && pending.len() < ECHO_BUFFER {
                let room = ECHO_BUFFER - pending.len();
                match stack.recv_with(*c, |data| {
                    let n = data.len().min(room);
                    pending.extend_from_slice(&data[..n]);
                    n
                }) {
                    Ok(_) => work = true,
                    Err(RecvError::WouldBlock) => {}
                    Err(RecvError::Finished) => *peer_done = true,
                    Err(_) => {
                        let _ = stack.close(*c);
                        return false;
                    }
                }
            }
            if !pending.is_empty() {
                match stack.send(*c, pending) {
                    Ok(n) => {
                        pending.drain(..n);
                        work = true;
                    }
                    Err(corenet_net::stack::SendError::WouldBlock) => {}
                    Err(_) => {
                        let _ = stack.close(*c);
                        return false;
                    }
                }
            }
            if *peer_done && pending.is_empty() {
                let _ = stack.close(*c);
                return false;
            }
            true
        });
        if let Some(u) = self.udp {
            let mut buf = [0u8; 1500];
            while let Ok((n, from)) = stack.udp_recv_from(u, &mut buf) {
                let _ = stack.udp_send_to(u, &buf[..n], from);
                work = true;
            }
        }
        let now = core.now_ns();
        if now >= self.next_publish_ns {
            self.next_publish_ns = now + 100_000_000;
            let recount = now >= self.next_states_ns;
            if recount {
                self.next_states_ns = now + 1_000_000_000;
            }
            metrics::publish(core, net, self.http.len() + self.echo.len(), recount);
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
                    self.http.len(),
                    self.echo.len()
                );
                self.polls_since = 0;
            }
        }
        self.polls_since += 1;
        if work { Step::Busy } else { Step::Idle }
    }
}

corenet::appliance!(Httpd);
