//! One pass over a core's clients and its rings to the other cores: accept, read, answer,
//! send, run the parts other cores sent here, deliver their replies, deadlines, shedding.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use corenet::prelude::{Conn, Drain, RecvError, SendError, Sockets, Sweep};
use corenet_http::budget::Pool;
use corenet_http::timers::{Phase, Timeouts, Timer};

use crate::links::{Links, Msg};
use crate::node::Node;
use crate::session::{Limits, Session};

/// A client connection.
pub struct Client {
    c: Conn,
    s: Session,
    timer: Timer,
    /// A reply from another core could not be buffered: reset it in the next pass.
    shed: bool,
}

/// Fixed bytes per connection for the memory budget: its entry in the table and
/// allocator overhead.
pub const PER_CONNECTION: usize = core::mem::size_of::<Client>() + 64 + 256;

/// Parts and replies from other cores handled per pass at most, counted in whole messages
/// (the rest wait in their rings).
const MESH_BUDGET: usize = 1024;

/// Per-core counters (monotonic).
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    /// Connections accepted.
    pub accepted: u64,
    /// Connections reset because a buffer could not grow.
    pub shed: u64,
    /// Connections refused at the connection limit.
    pub refused: u64,
    /// Connections closed by a deadline.
    pub timeouts: u64,
    /// Parts run for other cores.
    pub served_remote: u64,
    /// Replies for connections gone meanwhile.
    pub orphan_replies: u64,
    /// Parts from other cores not run because this core's heap had no room for their
    /// replies (their connections are shed on their cores).
    pub remote_refused: u64,
    /// Client visits by the passes (those with news, and the deadline sweep).
    pub visits: u64,
}

/// A core's server.
pub struct Server {
    /// The keys and the command engine.
    pub node: Node,
    links: Option<Links<'static>>,
    clients: BTreeMap<u64, Client>,
    next_token: u64,
    pool: Pool,
    limits: Limits,
    timeouts: Timeouts,
    port: u16,
    max_connections: usize,
    /// Per stack slot ([`Conn::slot`]): the token of its client, 0 for none.
    by_slot: Vec<u64>,
    /// Clients to visit in this pass: accepted, reached by a reply (scratch between passes).
    visit: Vec<u64>,
    /// Clients to visit in the next pass whatever the stack says: a visit left them work
    /// that no segment will announce (input left unread, buffered commands).
    again: Vec<u64>,
    /// The stack's list of slots with news (scratch).
    ready: Vec<u32>,
    sweep: Sweep,
    /// The sweep goes on from this token.
    sweep_from: u64,
    /// Counters.
    pub stats: Stats,
}

impl Server {
    /// A server on `port` with `links` to the other cores (`None`: single core).
    pub fn new(
        node: Node,
        links: Option<Links<'static>>,
        port: u16,
        max_connections: usize,
        pool_bytes: usize,
        timeouts: Timeouts,
    ) -> Self {
        Self {
            node,
            links,
            clients: BTreeMap::new(),
            next_token: 1,
            pool: Pool::new(pool_bytes),
            limits: Limits::default(),
            timeouts,
            port,
            max_connections,
            by_slot: Vec::new(),
            visit: Vec::new(),
            again: Vec::new(),
            ready: Vec::new(),
            sweep: Sweep::new(0),
            sweep_from: 0,
            stats: Stats::default(),
        }
    }

    /// The heap this core can spend beyond what it keeps for others (free heap less its
    /// reserve and the connections it may still accept), told before each pass. Connection
    /// buffers are charged against it as well as against the pool; replies made here for
    /// other cores' connections spend it too (they live on this core's heap until that core
    /// has sent them, and only its pool charges them); a part from another core that finds
    /// none left is not run and its connection is shed.
    pub fn set_heap_room(&mut self, bytes: usize) {
        self.pool.observe_heap_free(bytes);
    }

    /// Clients connected to this core.
    pub fn clients(&self) -> usize {
        self.clients.len()
    }

    /// The buffer pool's (used, limit).
    pub fn pool(&self) -> (usize, usize) {
        (self.pool.used(), self.pool.limit())
    }

    /// One pass; returns whether anything moved. `heap_room`: the heap this core can spend
    /// now ([`set_heap_room`](Self::set_heap_room)).
    pub fn poll(&mut self, stack: &mut dyn Sockets, now_ns: u64, heap_room: usize) -> bool {
        let now_ms = now_ns / 1_000_000;
        self.set_heap_room(heap_room);
        let mut work = self.accept(stack, now_ns);
        work |= self.mesh(now_ms);
        work |= self.serve(stack, now_ns, now_ms);
        work |= self.finish(now_ms);
        work
    }

    /// The pass of a core that serves no clients (no NIC queue): it still owns its keys and
    /// runs the parts other cores send it.
    pub fn poll_remote(&mut self, now_ns: u64) -> bool {
        let now_ms = now_ns / 1_000_000;
        let work = self.mesh(now_ms);
        self.finish(now_ms) || work
    }

    /// Sends this pass's parts and replies to the other cores (one message per core and
    /// kind); true while some wait for room in a ring (the core must not halt then).
    fn finish(&mut self, now_ms: u64) -> bool {
        let mut backlog = false;
        if let Some(links) = self.links.as_mut() {
            for (to, f) in self.node.outbox.drain(..) {
                links.forward(to, f);
            }
            backlog = links.flush() > 0;
            self.node.info.mesh = [links.sent, links.items, links.full];
        } else {
            self.node.outbox.clear();
        }
        self.node.store.expire_cycle(now_ms, 32);
        self.node.info.clients = self.clients.len();
        let st = &self.stats;
        self.node.info.conns = [st.accepted, st.refused, st.shed, st.timeouts];
        backlog
    }

    fn accept(&mut self, stack: &mut dyn Sockets, now: u64) -> bool {
        let mut work = false;
        while let Ok(c) = stack.accept(self.port) {
            work = true;
            if self.clients.len() >= self.max_connections {
                self.stats.refused += 1;
                stack.abort(c);
                continue;
            }
            self.stats.accepted += 1;
            // Replies to a pipeline whose commands ran on two cores leave in parts (the
            // local ones first); with Nagle the later part waited for the client's delayed
            // ACK. Redis sets TCP_NODELAY on its clients too.
            stack.set_nodelay(&c, true);
            // Tokens name the core too, so CLIENT ID is unique on the machine.
            let token = (self.node.me as u64) << 48 | self.next_token;
            self.next_token += 1;
            let slot = c.slot() as usize;
            if slot >= self.by_slot.len() {
                self.by_slot.resize(slot + 1, 0);
            }
            self.by_slot[slot] = token;
            // Its first bytes may have come with the handshake: visit it in this pass.
            self.visit.push(token);
            self.clients.insert(
                token,
                Client {
                    c,
                    s: Session::new(token),
                    timer: Timer::new(now, Phase::Idle),
                    shed: false,
                },
            );
            self.node.info.clients = self.clients.len();
        }
        work
    }

    /// Runs the parts other cores sent and delivers the replies they sent back.
    fn mesh(&mut self, now_ms: u64) -> bool {
        let Some(links) = self.links.as_mut() else {
            return false;
        };
        let mut n = 0;
        while n < MESH_BUDGET {
            let Some(m) = links.receive() else { break };
            n += m.len().max(1);
            match m {
                Msg::Forwards(batch) => {
                    for f in batch {
                        if self.pool.heap_headroom() == Some(0) {
                            self.stats.remote_refused += 1;
                            links.reply(f.from, Node::refuse(&f));
                            continue;
                        }
                        self.stats.served_remote += 1;
                        let r = self.node.serve(&f, now_ms);
                        self.pool.spend_heap(r.bytes.capacity());
                        links.reply(f.from, r);
                    }
                }
                Msg::Replies(batch) => {
                    for r in batch {
                        let Some(cl) = self.clients.get_mut(&r.token) else {
                            self.stats.orphan_replies += 1;
                            continue;
                        };
                        // Its reply to send (or its reset): no segment announces it.
                        self.visit.push(r.token);
                        if r.shed {
                            cl.shed = true;
                            continue;
                        }
                        let pool = &mut self.pool;
                        cl.shed |=
                            cl.s.deliver(r.seq, r.part, r.bytes, &self.limits, pool)
                                .is_err();
                    }
                }
            }
        }
        n > 0
    }

    /// Visits the clients with news (the stack's list, those accepted in this pass, those a
    /// reply from another core reached, those a visit left work), then a slice of all of
    /// them (`Sweep`: each at least once every quarter second, for deadlines), never every
    /// client every pass: with thousands connected, a pass costs what its traffic costs.
    fn serve(&mut self, stack: &mut dyn Sockets, now_ns: u64, now_ms: u64) -> bool {
        let mut list = core::mem::take(&mut self.visit);
        list.append(&mut self.again);
        stack.take_ready(&mut self.ready);
        for &slot in &self.ready {
            match self.by_slot.get(slot as usize) {
                Some(&t) if t != 0 => list.push(t),
                _ => {}
            }
        }
        self.ready.clear();
        list.sort_unstable();
        list.dedup();
        let mut work = false;
        for &token in &list {
            work |= self.visit_client(token, stack, now_ns, now_ms);
        }
        list.clear();
        // The sweep: the next `due` tokens after the last one swept, wrapping.
        let due = self.sweep.due(now_ns, self.clients.len());
        let from = self.sweep_from;
        let after = self.clients.range(from..).map(|(&t, _)| t);
        list.extend(
            after
                .chain(self.clients.range(..from).map(|(&t, _)| t))
                .take(due),
        );
        if let Some(&last) = list.last() {
            self.sweep_from = last + 1;
        }
        for &token in &list {
            work |= self.visit_client(token, stack, now_ns, now_ms);
        }
        list.clear();
        self.visit = list;
        // Work left for the next pass: the core must not halt meanwhile.
        work || !self.again.is_empty()
    }

    /// Visits client `token` (if still connected): reads, answers, sends, checks its
    /// deadline; returns whether anything moved.
    fn visit_client(
        &mut self,
        token: u64,
        stack: &mut dyn Sockets,
        now_ns: u64,
        now_ms: u64,
    ) -> bool {
        let (limits, timeouts) = (self.limits, self.timeouts);
        let (pool, node, stats) = (&mut self.pool, &mut self.node, &mut self.stats);
        let Some(cl) = self.clients.get_mut(&token) else {
            return false;
        };
        stats.visits += 1;
        let mut work = false;
        // `Some(reset)`: the client is gone (reset it first if `true`).
        let end = 'visit: {
            let s = &mut cl.s;
            if cl.shed {
                stats.shed += 1;
                s.release(pool);
                break 'visit Some(true);
            }
            let mut ok = Ok(());
            let d = stack.drain_with(&cl.c, &mut |step| match step {
                Drain::Room if ok.is_err() => 0,
                Drain::Room => s.input_room(&limits),
                Drain::Bytes(data) => {
                    let n = data.len().min(s.input_room(&limits));
                    ok = s.on_input(&data[..n], &limits, pool, node, now_ms);
                    n
                }
            });
            // Bytes left in the stack: read them once there is room, news or not.
            let unread = d.left;
            work |= d.took > 0;
            match d.end {
                None => {}
                Some(RecvError::Finished) => s.peer_closed(),
                Some(_) => {
                    s.release(pool);
                    break 'visit Some(false);
                }
            }
            if ok.is_ok() {
                ok = s.pump(&limits, pool, node, now_ms);
            }
            if ok.is_err() {
                stats.shed += 1;
                s.release(pool);
                break 'visit Some(true);
            }
            let mut progress = false;
            while !s.output().is_empty() {
                match stack.send(&cl.c, s.output()) {
                    Ok(0) | Err(SendError::WouldBlock) => break,
                    Ok(n) => {
                        s.consumed(n);
                        progress = true;
                    }
                    Err(_) => {
                        s.release(pool);
                        break 'visit Some(false);
                    }
                }
            }
            work |= progress;
            s.trim(&limits, pool);
            if s.done() {
                s.release(pool);
                break 'visit Some(false);
            }
            let phase = if !s.output().is_empty() {
                Phase::Sending
            } else if !s.idle() && !s.waiting() {
                Phase::Reading
            } else {
                Phase::Idle
            };
            cl.timer.update(now_ns, phase, progress);
            if cl.timer.expired(now_ns, &timeouts).is_some() {
                stats.timeouts += 1;
                s.release(pool);
                break 'visit Some(true);
            }
            // Output drained: input left in the stack, or commands buffered here, can go
            // on without a new segment to announce it.
            if (unread && s.input_room(&limits) > 0) || (progress && s.has_input()) {
                self.again.push(token);
            }
            None
        };
        if let Some(reset) = end
            && let Some(cl) = self.clients.remove(&token)
        {
            if let Some(t) = self.by_slot.get_mut(cl.c.slot() as usize) {
                *t = 0;
            }
            if reset {
                stack.reset(&cl.c);
            }
            // Dropping the handle closes it (a reset one is dead already).
        }
        work
    }
}
