//! One pass over a core's connections: HTTP and TCP echo I/O, deadlines, eviction, 503s,
//! shedding, rate-limited UDP echo. The decisions live in `corenet_http` (host-tested); this
//! module only moves bytes between them and the stack.

use alloc::vec::Vec;
use corenet::prelude::{Conn as Tcp, Sockets, Sweep, UdpSocket};
use corenet_http::budget::Pool;
use corenet_http::echo::Echo;
use corenet_http::ratelimit::TokenBucket;
use corenet_http::settings::Settings;
use corenet_http::timers::{Phase, Timer, oldest_in, should_evict};
use corenet_http::{Conn, Limits, Request, Response};

mod echo_io;
mod http_io;

/// An HTTP connection.
pub struct Http {
    c: Tcp,
    conn: Conn,
    timer: Timer,
}

/// A TCP echo connection.
pub struct EchoConn {
    c: Tcp,
    echo: Echo,
    timer: Timer,
}

/// Pool room a new HTTP connection needs (a request and its answer); below it the client
/// gets 503 and the connection is closed.
const ADMIT: usize = 4 * 1024;
/// Connections evicted per pass at most.
const EVICT_PER_PASS: usize = 8;
/// A connection is an eviction candidate once idle this long (its last response has left the
/// TCP send buffer by then unless the peer stopped reading), once its request has been
/// incomplete this long (a client on a working link sends a head in one go), or once its peer
/// has taken none of its output this long (its window stayed shut).
const EVICT_MIN_AGE_NS: u64 = 1_000_000_000;
/// Near the limit with no connection old enough to evict, the next look is this much later:
/// a look scans every connection, and a pass must not cost what its connections number.
const EVICT_RETRY_NS: u64 = 50_000_000;

/// `Server::at` for a slot whose connection is not ours.
const NOT_OURS: u32 = u32::MAX;
/// `Server::at`: the connection is `echo[at & !ECHO]`, not `http[at]`.
const ECHO: u32 = 1 << 31;

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
    /// Connections with an overdue request or stalled output evicted near the limit or,
    /// largest buffer first, when the pool is short (reset).
    pub evictions_slow: u64,
    /// Connections answered 503 because the buffer pool was short.
    pub unavailable: u64,
    /// Connections reset because a buffer could not grow.
    pub shed: u64,
    /// UDP echo replies not sent (rate limit).
    pub udp_echo_dropped: u64,
    /// Connection visits (HTTP and echo): the passes' cost in connections.
    pub visits: u64,
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
    /// Per stack slot ([`Tcp::slot`]): the connection's index in `http`, or `ECHO | index`
    /// in `echo`, or `NOT_OURS`.
    at: Vec<u32>,
    /// Slots to visit in this pass: the stack's news, the connections just accepted.
    visit: Vec<u32>,
    /// Slots to visit in the next pass whatever the stack says: a visit left them work
    /// that no segment will announce (input left unread, buffered requests).
    again: Vec<u32>,
    sweep: Sweep,
    /// No eviction candidate before this time (the last look found none).
    evict_after_ns: u64,
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
            at: Vec::new(),
            visit: Vec::new(),
            again: Vec::new(),
            sweep: Sweep::new(now_ns),
            evict_after_ns: 0,
            stats: Stats {
                pool_limit: pool_bytes as u64,
                ..Stats::default()
            },
        }
    }

    /// One pass; returns whether anything moved. `heap_free` is the core's free heap now.
    pub fn poll(
        &mut self,
        stack: &mut dyn Sockets,
        now: u64,
        heap_free: usize,
        route: &mut dyn FnMut(&Request<'_>) -> Response,
    ) -> bool {
        self.pool.observe_heap_free(heap_free);
        let mut work = self.accept(stack, now);
        self.evict(stack, now);
        work |= self.serve(stack, now, route);
        work |= self.serve_udp(stack, now);
        self.stats.pool_used = self.pool.used() as u64;
        self.stats.udp_echo_dropped = self.udp_bucket.dropped;
        work
    }

    fn accept(&mut self, stack: &mut dyn Sockets, now: u64) -> bool {
        let mut work = false;
        while let Ok(c) = stack.accept(80) {
            work = true;
            if self.pool.available() < ADMIT {
                self.reclaim(stack, now);
            }
            if self.pool.available() < ADMIT || self.http.len() >= self.max_connections {
                // Over the memory budget: say so (the socket's own send buffer holds it)
                // and close, rather than take a connection that cannot be served.
                self.stats.unavailable += 1;
                match stack.send(&c, &self.unavailable) {
                    Ok(_) => stack.close(c),
                    Err(_) => stack.abort(c),
                }
                continue;
            }
            // Its first bytes may have come with the handshake: visit it in this pass.
            self.place(c.slot(), self.http.len() as u32);
            self.visit.push(c.slot());
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
                stack.abort(c);
                continue;
            }
            self.place(c.slot(), ECHO | self.echo.len() as u32);
            self.visit.push(c.slot());
            self.echo.push(EchoConn {
                c,
                echo: Echo::new(),
                timer: Timer::new(now, Phase::Idle),
            });
        }
        work
    }

    /// Visits the connections with news (the stack's list, those accepted in this pass,
    /// those a visit left work), then a slice of all of them (`Sweep`: each at least once
    /// every quarter second, for deadlines), never every connection every pass: with
    /// thousands open, a pass costs what its traffic costs.
    fn serve(
        &mut self,
        stack: &mut dyn Sockets,
        now: u64,
        route: &mut dyn FnMut(&Request<'_>) -> Response,
    ) -> bool {
        let mut list = core::mem::take(&mut self.visit);
        list.append(&mut self.again);
        stack.take_ready(&mut list);
        list.sort_unstable();
        list.dedup();
        let mut work = false;
        for &slot in &list {
            match self.at.get(slot as usize).copied().unwrap_or(NOT_OURS) {
                NOT_OURS => {}
                w if w & ECHO == 0 => work |= self.visit_http(w as usize, stack, now, route).0,
                w => work |= self.visit_echo((w & !ECHO) as usize, stack, now).0,
            }
        }
        list.clear();
        self.visit = list;
        let mut due = self.sweep.due(now, self.http.len() + self.echo.len());
        while due > 0 {
            due -= 1;
            let total = self.http.len() + self.echo.len();
            if total == 0 {
                break;
            }
            let i = self.sweep.next(total);
            let (moved, kept) = if i < self.http.len() {
                self.visit_http(i, stack, now, route)
            } else {
                self.visit_echo(i - self.http.len(), stack, now)
            };
            work |= moved;
            if kept {
                self.sweep.advance();
            }
        }
        // Work left for the next pass: the core must not halt meanwhile.
        work || !self.again.is_empty()
    }

    /// Records where slot `slot`'s connection is.
    fn place(&mut self, slot: u32, w: u32) {
        let s = slot as usize;
        if s >= self.at.len() {
            self.at.resize(s + 1, NOT_OURS);
        }
        self.at[s] = w;
    }

    /// Takes HTTP connection `i` out (the last one moves into its place).
    fn take_http(&mut self, i: usize) -> Http {
        let h = self.http.swap_remove(i);
        self.at[h.c.slot() as usize] = NOT_OURS;
        if let Some(moved) = self.http.get(i) {
            self.at[moved.c.slot() as usize] = i as u32;
        }
        h
    }

    /// Takes echo connection `i` out (the last one moves into its place).
    fn take_echo(&mut self, i: usize) -> EchoConn {
        let e = self.echo.swap_remove(i);
        self.at[e.c.slot() as usize] = NOT_OURS;
        if let Some(moved) = self.echo.get(i) {
            self.at[moved.c.slot() as usize] = ECHO | i as u32;
        }
        e
    }

    /// Near the connection limit, resets the connections idle for longest (else those whose
    /// request has been incomplete, else whose output has stalled, for longest), so new
    /// clients find a slot instead of a RST.
    fn evict(&mut self, stack: &mut dyn Sockets, now: u64) {
        // Half-open connections do not count: the stack frees the oldest of them for a new
        // SYN at the limit, so they leave room for new clients already.
        let held = stack.connections().saturating_sub(stack.half_open());
        let mut gone = 0;
        while gone < EVICT_PER_PASS
            && now >= self.evict_after_ns
            && should_evict(held.saturating_sub(gone), self.max_connections)
        {
            let Some((i, slow)) = self.victim(now) else {
                self.evict_after_ns = now + EVICT_RETRY_NS;
                return;
            };
            if i < self.http.len() {
                let mut h = self.take_http(i);
                h.conn.release(&mut self.pool);
                stack.abort(h.c);
            } else {
                let mut e = self.take_echo(i - self.http.len());
                e.echo.release(&mut self.pool);
                stack.abort(e.c);
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

    /// When the pool is short, resets connections (HTTP or echo) whose request has been
    /// incomplete, or whose peer has taken none of its output, for at least
    /// [`EVICT_MIN_AGE_NS`], the largest buffer first: a few clients that start big requests
    /// and never finish them, or pipeline requests or echo data and stop reading, would
    /// otherwise hold the pool (503 for everyone) for the header or send timeout, long before
    /// they hold the connection slots.
    fn reclaim(&mut self, stack: &mut dyn Sockets, now: u64) {
        let mut gone = 0;
        while gone < EVICT_PER_PASS && self.pool.available() < ADMIT {
            // HTTP connections, then echo ones, as (timer, bytes held).
            let http = self.http.iter().map(|h| (&h.timer, h.conn.memory()));
            let all = http.chain(self.echo.iter().map(|e| (&e.timer, e.echo.memory())));
            let stuck = all.enumerate().filter(|(_, (t, held))| {
                t.phase() != Phase::Idle
                    && now.saturating_sub(t.since_ns()) >= EVICT_MIN_AGE_NS
                    && *held > 0
            });
            let Some((i, _)) = stuck.max_by_key(|(_, (_, held))| *held) else {
                return;
            };
            if i < self.http.len() {
                let mut h = self.take_http(i);
                h.conn.release(&mut self.pool);
                stack.abort(h.c);
            } else {
                let mut e = self.take_echo(i - self.http.len());
                e.echo.release(&mut self.pool);
                stack.abort(e.c);
            }
            self.stats.evictions_slow += 1;
            gone += 1;
        }
    }

    /// Bytes the live connections' buffers hold, and what the pool says is charged: the two
    /// must agree.
    #[cfg(test)]
    pub(crate) fn held_and_charged(&self) -> (usize, usize) {
        let http = self.http.iter().map(|h| h.conn.memory());
        let held = http.sum::<usize>() + self.echo.iter().map(|e| e.echo.memory()).sum::<usize>();
        (held, self.pool.used())
    }

    /// Bytes the pool can still charge.
    #[cfg(test)]
    pub(crate) fn pool_available(&self) -> usize {
        self.pool.available()
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
        // Then a request incomplete for longest, then the peer that has taken none of its
        // output for longest (a peer that takes a byte a minute stays under the send timeout
        // for good); a connection whose peer reads is never a victim.
        oldest_in(all(), Phase::Reading, now, EVICT_MIN_AGE_NS)
            .or_else(|| oldest_in(all(), Phase::Sending, now, EVICT_MIN_AGE_NS))
            .map(|i| (i, true))
    }
}
