//! One pass over a core's connections: HTTP and TCP echo I/O, deadlines, eviction, 503s,
//! shedding, rate-limited UDP echo. The decisions live in `corenet_http` (host-tested); this
//! module only moves bytes between them and the stack.

use alloc::vec::Vec;
use corenet::net::CoreStack;
use corenet::net::stack::{RecvError, SendError, TcpConn, UdpSocket};
use corenet::nic::{RxQueue, TxQueue};
use corenet_http::budget::Pool;
use corenet_http::echo::{self, Echo};
use corenet_http::ratelimit::TokenBucket;
use corenet_http::settings::Settings;
use corenet_http::timers::{Expiry, Phase, Timer, oldest_in, should_evict};
use corenet_http::{Conn, Limits, Request, Response};

/// An HTTP connection.
pub struct Http {
    c: TcpConn,
    conn: Conn,
    timer: Timer,
}

/// A TCP echo connection.
pub struct EchoConn {
    c: TcpConn,
    echo: Echo,
    timer: Timer,
}

/// Pool room a new HTTP connection needs (a request and its answer); below it the client
/// gets 503 and the connection is closed.
const ADMIT: usize = 4 * 1024;
/// Connections evicted per pass at most.
const EVICT_PER_PASS: usize = 8;
/// A connection is an eviction candidate once idle this long (its last response has left the
/// TCP send buffer by then unless the peer stopped reading), or once its request has been
/// incomplete this long (a client on a working link sends a head in one go).
const EVICT_MIN_AGE_NS: u64 = 1_000_000_000;

/// What the server did about slow, greedy and excess clients (per core, monotonic).
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    /// Requests not complete within the header timeout (reset).
    pub header_timeouts: u64,
    /// Idle keep-alive connections closed.
    pub idle_timeouts: u64,
    /// Peers that took no output within the send timeout (reset).
    pub send_timeouts: u64,
    /// Idle connections evicted near the connection limit (reset).
    pub evictions: u64,
    /// Connections with an overdue request evicted near the limit (reset).
    pub evictions_slow: u64,
    /// Connections answered 503 because the buffer pool was short.
    pub unavailable: u64,
    /// Connections reset because a buffer could not grow.
    pub shed: u64,
    /// UDP echo replies not sent (rate limit).
    pub udp_echo_dropped: u64,
    /// Buffer pool bytes in use.
    pub pool_used: u64,
    /// Buffer pool size.
    pub pool_limit: u64,
}

/// A core's server state.
pub struct Server {
    /// HTTP connections.
    pub http: Vec<Http>,
    /// Echo connections.
    pub echo: Vec<EchoConn>,
    udp: Option<UdpSocket>,
    limits: Limits,
    settings: Settings,
    pool: Pool,
    udp_bucket: TokenBucket,
    unavailable: Vec<u8>,
    max_connections: usize,
    /// Counters.
    pub stats: Stats,
}

/// Fixed bytes per connection for the memory budget: a slot in each table (both are reserved
/// for the connection limit) plus allocator overhead of its buffers.
pub const PER_CONNECTION: usize =
    core::mem::size_of::<Http>() + core::mem::size_of::<EchoConn>() + 128;

impl Server {
    /// A server for a core that may hold `max_connections` with `pool_bytes` for buffers.
    pub fn new(
        settings: Settings,
        udp: Option<UdpSocket>,
        max_connections: usize,
        pool_bytes: usize,
        now_ns: u64,
    ) -> Self {
        let mut unavailable = Vec::new();
        Response::error(corenet_http::Status::Unavailable).write(&mut unavailable, false, false);
        Self {
            http: Vec::with_capacity(max_connections),
            echo: Vec::with_capacity(max_connections),
            udp,
            limits: Limits::default(),
            settings,
            pool: Pool::new(pool_bytes),
            udp_bucket: TokenBucket::new(settings.udp_echo_rate, settings.udp_echo_burst, now_ns),
            unavailable,
            max_connections,
            stats: Stats {
                pool_limit: pool_bytes as u64,
                ..Stats::default()
            },
        }
    }

    /// One pass; returns whether anything moved. `heap_free` is the core's free heap now.
    pub fn poll<R: RxQueue, T: TxQueue>(
        &mut self,
        stack: &mut CoreStack<R, T>,
        now: u64,
        heap_free: usize,
        route: &mut dyn FnMut(&Request<'_>) -> Response,
    ) -> bool {
        self.pool.observe_heap_free(heap_free);
        let mut work = self.accept(stack, now);
        self.evict(stack, now);
        work |= self.serve_http(stack, now, route);
        work |= self.serve_echo(stack, now);
        work |= self.serve_udp(stack, now);
        self.stats.pool_used = self.pool.used() as u64;
        self.stats.udp_echo_dropped = self.udp_bucket.dropped;
        work
    }

    fn accept<R: RxQueue, T: TxQueue>(&mut self, stack: &mut CoreStack<R, T>, now: u64) -> bool {
        let mut work = false;
        while let Ok(c) = stack.accept(80) {
            work = true;
            if self.pool.available() < ADMIT || self.http.len() >= self.max_connections {
                // Over the memory budget: say so (the socket's own send buffer holds it)
                // and close, rather than take a connection that cannot be served.
                self.stats.unavailable += 1;
                match stack.send(c, &self.unavailable) {
                    Ok(_) => drop(stack.close(c)),
                    Err(_) => drop(stack.abort(c)),
                }
                continue;
            }
            self.http.push(Http {
                c,
                conn: Conn::new(),
                timer: Timer::new(now, Phase::Reading),
            });
        }
        while let Ok(c) = stack.accept(7) {
            work = true;
            if self.echo.len() >= self.max_connections {
                self.stats.unavailable += 1;
                let _ = stack.abort(c);
                continue;
            }
            self.echo.push(EchoConn {
                c,
                echo: Echo::new(),
                timer: Timer::new(now, Phase::Idle),
            });
        }
        work
    }

    /// Near the connection limit, resets the connections idle for longest (else those whose
    /// request has been incomplete for longest), so new clients find a slot instead of a RST.
    fn evict<R: RxQueue, T: TxQueue>(&mut self, stack: &mut CoreStack<R, T>, now: u64) {
        let mut gone = 0;
        while gone < EVICT_PER_PASS
            && should_evict(stack.connections() - gone, self.max_connections)
        {
            let Some((i, slow)) = self.victim(now) else {
                return;
            };
            if i < self.http.len() {
                let mut h = self.http.swap_remove(i);
                h.conn.release(&mut self.pool);
                let _ = stack.abort(h.c);
            } else {
                let mut e = self.echo.swap_remove(i - self.http.len());
                e.echo.release(&mut self.pool);
                let _ = stack.abort(e.c);
            }
            if slow {
                self.stats.evictions_slow += 1;
            } else {
                self.stats.evictions += 1;
            }
            // The aborted slot is freed at the next egress: count it gone now.
            gone += 1;
        }
    }

    /// The eviction victim: index over HTTP then echo connections, and whether it is a slow
    /// reader rather than an idle one.
    fn victim(&self, now: u64) -> Option<(usize, bool)> {
        let all = || {
            let http = self.http.iter().map(|h| &h.timer);
            http.chain(self.echo.iter().map(|e| &e.timer))
        };
        if let Some(i) = oldest_in(all(), Phase::Idle, now, EVICT_MIN_AGE_NS) {
            return Some((i, false));
        }
        oldest_in(all(), Phase::Reading, now, EVICT_MIN_AGE_NS).map(|i| (i, true))
    }

    fn serve_http<R: RxQueue, T: TxQueue>(
        &mut self,
        stack: &mut CoreStack<R, T>,
        now: u64,
        route: &mut dyn FnMut(&Request<'_>) -> Response,
    ) -> bool {
        let (limits, timeouts) = (self.limits, self.settings.timeouts);
        let pool = &mut self.pool;
        let stats = &mut self.stats;
        let mut work = false;
        self.http.retain_mut(|h| {
            let conn = &mut h.conn;
            let mut ok = Ok(0);
            let room = conn.input_room(&limits);
            // No room: not even a look (that would mark the connection for egress every
            // pass); a reset shows up as a failed send below.
            let r = match room {
                0 => Err(RecvError::WouldBlock),
                _ => stack.recv_with(h.c, |data| {
                    let n = data.len().min(room);
                    ok = conn.on_input(&data[..n], &limits, pool, route);
                    *ok.as_ref().unwrap_or(&n)
                }),
            };
            match r {
                Ok(n) => work |= n > 0,
                Err(RecvError::WouldBlock) => {}
                Err(RecvError::Finished) => conn.peer_closed(),
                Err(RecvError::Closed | RecvError::BadHandle) => {
                    // Reset or gone: closing the handle is what frees its slot.
                    conn.release(pool);
                    let _ = stack.close(h.c);
                    return false;
                }
            }
            let mut ok = ok.map(|_| ());
            if ok.is_ok() {
                ok = conn.pump(&limits, pool, route);
            }
            if ok.is_err() {
                stats.shed += 1;
                conn.release(pool);
                let _ = stack.abort(h.c);
                return false;
            }
            let mut progress = false;
            while !conn.output().is_empty() {
                match stack.send(h.c, conn.output()) {
                    Ok(0) | Err(SendError::WouldBlock) => break,
                    Ok(n) => {
                        conn.consumed(n);
                        progress = true;
                    }
                    Err(_) => {
                        conn.release(pool);
                        let _ = stack.close(h.c);
                        return false;
                    }
                }
            }
            work |= progress;
            conn.trim(&limits, pool);
            if conn.done() {
                conn.release(pool);
                let _ = stack.close(h.c);
                return false;
            }
            h.timer.update(now, conn.phase(), progress);
            match h.timer.expired(now, &timeouts) {
                None => true,
                Some(e) => {
                    conn.release(pool);
                    expire(stack, h.c, e, stats);
                    false
                }
            }
        });
        work
    }

    fn serve_echo<R: RxQueue, T: TxQueue>(
        &mut self,
        stack: &mut CoreStack<R, T>,
        now: u64,
    ) -> bool {
        let timeouts = self.settings.timeouts;
        let pool = &mut self.pool;
        let stats = &mut self.stats;
        let mut work = false;
        self.echo.retain_mut(|e| {
            let room = e.echo.room(echo::MAX_PENDING);
            let mut ok = Ok(());
            let r = match room {
                0 => Err(RecvError::WouldBlock),
                _ => stack.recv_with(e.c, |data| {
                    let n = data.len().min(room);
                    ok = e.echo.on_input(&data[..n], echo::MAX_PENDING, pool);
                    if ok.is_ok() { n } else { 0 }
                }),
            };
            match r {
                Ok(n) => work |= n > 0,
                Err(RecvError::WouldBlock) => {}
                Err(RecvError::Finished) => e.echo.peer_closed(),
                Err(_) => {
                    e.echo.release(pool);
                    let _ = stack.close(e.c);
                    return false;
                }
            }
            if ok.is_err() {
                stats.shed += 1;
                e.echo.release(pool);
                let _ = stack.abort(e.c);
                return false;
            }
            let mut progress = false;
            if !e.echo.output().is_empty() {
                match stack.send(e.c, e.echo.output()) {
                    Ok(n) => {
                        e.echo.consumed(n, pool);
                        progress = n > 0;
                    }
                    Err(SendError::WouldBlock) => {}
                    Err(_) => {
                        e.echo.release(pool);
                        let _ = stack.close(e.c);
                        return false;
                    }
                }
            }
            work |= progress;
            if e.echo.done() {
                e.echo.release(pool);
                let _ = stack.close(e.c);
                return false;
            }
            e.timer.update(now, e.echo.phase(), progress);
            match e.timer.expired(now, &timeouts) {
                None => true,
                Some(x) => {
                    e.echo.release(pool);
                    expire(stack, e.c, x, stats);
                    false
                }
            }
        });
        work
    }

    fn serve_udp<R: RxQueue, T: TxQueue>(&mut self, stack: &mut CoreStack<R, T>, now: u64) -> bool {
        let Some(u) = self.udp else { return false };
        let mut buf = [0u8; 1500];
        let mut work = false;
        while let Ok((n, from)) = stack.udp_recv_from(u, &mut buf) {
            work = true;
            if self.udp_bucket.allow(now) {
                let _ = stack.udp_send_to(u, &buf[..n], from);
            }
        }
        work
    }
}

/// Ends a connection whose deadline passed: an idle one politely (FIN), a stuck one with RST
/// (its slot is free at once).
fn expire<R: RxQueue, T: TxQueue>(
    stack: &mut CoreStack<R, T>,
    c: TcpConn,
    e: Expiry,
    stats: &mut Stats,
) {
    match e {
        Expiry::Idle => {
            stats.idle_timeouts += 1;
            let _ = stack.close(c);
        }
        Expiry::Header => {
            stats.header_timeouts += 1;
            let _ = stack.abort(c);
        }
        Expiry::Send => {
            stats.send_timeouts += 1;
            let _ = stack.abort(c);
        }
    }
}
