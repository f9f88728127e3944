//! One client connection: pipelined commands answered in order, whether they run here or on
//! the core owning their key, with bounded input and output charged to the core's pool.
//!
//! A command whose key this core owns is answered at once into the output; one that goes to
//! another core takes a slot in a queue, and every reply after it waits in the queue too
//! until the slot is filled, so replies leave in request order. No more input is parsed while
//! the unsent output, or the number of waiting slots, is at its bound (back-pressure: the
//! client's further commands wait in its TCP window, not in our heap).

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::ops::Range;

use corenet_http::budget::{GrowError, Pool, release, shrink, try_grow};

use crate::node::{Forward, Node};
use crate::resp::{self, Parse};
use crate::route::{self, Combine, Plan};

/// Bounds on one connection.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The parser's bounds (request size, argument count).
    pub resp: resp::Limits,
    /// Unsent output above which no further command is parsed.
    pub max_out: usize,
    /// Commands waiting for other cores at most.
    pub max_waiting: usize,
    /// Largest single reply (a larger one sheds the connection, as Redis's client output
    /// buffer limit disconnects it).
    pub max_reply: usize,
    /// Output capacity kept between commands.
    pub keep_out: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            resp: resp::Limits::default(),
            max_out: 16 * 1024,
            max_waiting: 128,
            max_reply: 1 << 20,
            keep_out: 2 * 1024,
        }
    }
}

#[derive(Debug)]
struct Slot {
    parts: Vec<Option<Vec<u8>>>,
    missing: usize,
    combine: Combine,
    /// Bytes of this command's arguments in flight to other cores, charged to the pool
    /// (and counted as pending output, so a client cannot park more than `max_out` of
    /// them on other cores) until the command's reply is out.
    in_flight: usize,
}

/// A connection.
#[derive(Debug)]
pub struct Session {
    /// This connection's token on its core (replies from other cores name it).
    pub token: u64,
    input: Vec<u8>,
    out: Vec<u8>,
    sent: usize,
    slots: VecDeque<Slot>,
    /// Sequence number of `slots[0]`.
    base: u64,
    /// Bytes held by filled parts of waiting slots (charged to the pool).
    held: usize,
    closing: bool,
    peer_done: bool,
    args: Vec<Range<usize>>,
    /// Commands answered or sent on.
    pub commands: u64,
}

impl Session {
    /// A new connection named `token`.
    pub fn new(token: u64) -> Self {
        Self {
            token,
            input: Vec::new(),
            out: Vec::new(),
            sent: 0,
            slots: VecDeque::new(),
            base: 0,
            held: 0,
            closing: false,
            peer_done: false,
            args: Vec::new(),
            commands: 0,
        }
    }

    fn pending(&self) -> usize {
        self.out.len() - self.sent + self.held
    }

    fn blocked(&self, l: &Limits) -> bool {
        self.closing || self.pending() >= l.max_out || self.slots.len() >= l.max_waiting
    }

    /// How many bytes the connection takes now (0: stop reading).
    pub fn input_room(&self, l: &Limits) -> usize {
        if self.peer_done || self.blocked(l) {
            return 0;
        }
        l.resp.max_request.saturating_sub(self.input.len())
    }

    /// Takes `data` (at most [`input_room`](Self::input_room)) and answers the complete
    /// commands in it. An error means a buffer could not grow: shed the connection.
    pub fn on_input(
        &mut self,
        data: &[u8],
        l: &Limits,
        pool: &mut Pool,
        node: &mut Node,
        now_ms: u64,
    ) -> Result<(), GrowError> {
        if self.input.is_empty() {
            let used = self.answer(data, l, pool, node, now_ms)?;
            if !self.closing && used < data.len() {
                try_grow(&mut self.input, data.len() - used, l.resp.max_request, pool)?;
                self.input.extend_from_slice(&data[used..]);
            }
            return Ok(());
        }
        try_grow(&mut self.input, data.len(), l.resp.max_request, pool)?;
        self.input.extend_from_slice(data);
        self.pump(l, pool, node, now_ms)
    }

    /// Answers buffered commands (after output drained). Cheap when there is nothing to do.
    pub fn pump(
        &mut self,
        l: &Limits,
        pool: &mut Pool,
        node: &mut Node,
        now_ms: u64,
    ) -> Result<(), GrowError> {
        if !self.input.is_empty() && !self.blocked(l) {
            let input = core::mem::take(&mut self.input);
            let r = self.answer(&input, l, pool, node, now_ms);
            self.input = input;
            match r {
                Ok(used) => drop(self.input.drain(..used)),
                Err(e) => return Err(e),
            }
            if self.closing {
                self.input.clear();
            }
        }
        // The peer is done and what it left is answered (the rest, if any, is a partial
        // command that can never complete): close once the replies are out.
        if self.peer_done && !self.blocked(l) {
            self.closing = true;
            self.input.clear();
        }
        Ok(())
    }

    /// Answers the commands at the start of `buf`; returns the bytes consumed.
    fn answer(
        &mut self,
        buf: &[u8],
        l: &Limits,
        pool: &mut Pool,
        node: &mut Node,
        now_ms: u64,
    ) -> Result<usize, GrowError> {
        let mut at = 0;
        let mut ranges = core::mem::take(&mut self.args);
        let mut r = Ok(());
        while at < buf.len() && !self.blocked(l) && r.is_ok() {
            match resp::parse(&buf[at..], &l.resp, &mut ranges) {
                Parse::Partial => break,
                Parse::Complete(n) => {
                    let base = at;
                    at += n;
                    if ranges.is_empty() {
                        continue;
                    }
                    let args: Vec<&[u8]> = ranges
                        .iter()
                        .map(|g| &buf[base + g.start..base + g.end])
                        .collect();
                    r = self.command(&args, l, pool, node, now_ms);
                }
                Parse::Error(e) => {
                    let mut msg = Vec::new();
                    e.write_message(&mut msg);
                    r = self.push(&msg, l, pool);
                    self.closing = true;
                    at = buf.len();
                }
            }
        }
        self.args = ranges;
        r.map(|_| at)
    }

    fn command(
        &mut self,
        args: &[&[u8]],
        l: &Limits,
        pool: &mut Pool,
        node: &mut Node,
        now_ms: u64,
    ) -> Result<(), GrowError> {
        self.commands += 1;
        if args[0].eq_ignore_ascii_case(b"QUIT") {
            self.closing = true;
            return self.push(b"+OK\r\n", l, pool);
        }
        match route::plan(args, node.me, node.cores) {
            Plan::Here => {
                let mut reply = Vec::new();
                node.exec(args, self.token, now_ms, &mut reply);
                self.push(&reply, l, pool)
            }
            Plan::Split(parts, combine) => {
                node.info.forwarded += 1;
                let seq = self.base + self.slots.len() as u64;
                let mut slot = Slot {
                    parts: Vec::with_capacity(parts.len()),
                    missing: 0,
                    combine,
                    in_flight: 0,
                };
                for (i, p) in parts.into_iter().enumerate() {
                    if p.owner == node.me {
                        let a: Vec<&[u8]> = p.args.iter().map(|a| a.as_slice()).collect();
                        let mut reply = Vec::new();
                        node.exec(&a, self.token, now_ms, &mut reply);
                        pool.try_take(reply.len())?;
                        self.held += reply.len();
                        slot.parts.push(Some(reply));
                    } else {
                        let cost: usize = p.args.iter().map(Vec::len).sum();
                        pool.try_take(cost)?;
                        self.held += cost;
                        slot.in_flight += cost;
                        slot.missing += 1;
                        slot.parts.push(None);
                        node.outbox.push((
                            p.owner,
                            Forward {
                                from: node.me,
                                token: self.token,
                                seq,
                                part: i as u32,
                                args: p.args,
                            },
                        ));
                    }
                }
                self.slots.push_back(slot);
                self.flush_slots(l, pool)
            }
        }
    }

    /// Appends a reply in order: to the output, or behind the slots still waiting.
    fn push(&mut self, reply: &[u8], l: &Limits, pool: &mut Pool) -> Result<(), GrowError> {
        if reply.len() > l.max_reply {
            return Err(GrowError::OverLimit);
        }
        self.emit(reply, l, pool)
    }

    /// [`push`](Self::push) for bytes already checked against `max_reply` (a slot's
    /// buffer: a run of local replies may together exceed it).
    fn emit(&mut self, reply: &[u8], l: &Limits, pool: &mut Pool) -> Result<(), GrowError> {
        if self.slots.is_empty() {
            if self.sent > 0 {
                self.out.drain(..self.sent);
                self.sent = 0;
            }
            let cap = (self.out.len() + reply.len()).max(l.max_out);
            try_grow(&mut self.out, reply.len(), cap, pool)?;
            self.out.extend_from_slice(reply);
            return Ok(());
        }
        pool.try_take(reply.len())?;
        self.held += reply.len();
        // Behind a slot that is already complete (local replies queued behind a remote one,
        // or a remote reply in): append to it, one buffer for a run of local replies.
        if let Some(last) = self.slots.back_mut()
            && last.missing == 0
            && last.combine == Combine::Single
            && let Some(Some(buf)) = last.parts.last_mut()
        {
            buf.extend_from_slice(reply);
            return Ok(());
        }
        self.slots.push_back(Slot {
            parts: alloc::vec![Some(reply.to_vec())],
            missing: 0,
            combine: Combine::Single,
            in_flight: 0,
        });
        Ok(())
    }

    /// Moves the filled slots at the front to the output.
    fn flush_slots(&mut self, l: &Limits, pool: &mut Pool) -> Result<(), GrowError> {
        while self.slots.front().is_some_and(|s| s.missing == 0) {
            let Some(s) = self.slots.pop_front() else {
                break;
            };
            self.base += 1;
            let n = s.in_flight + s.parts.iter().flatten().map(|p| p.len()).sum::<usize>();
            self.held -= n;
            pool.give(n);
            // Pushed with the queue empty ahead of it: straight to the output.
            let rest = core::mem::take(&mut self.slots);
            let r = if s.combine == Combine::Single {
                // The common case (one key, or local replies): no combined copy.
                s.parts
                    .iter()
                    .flatten()
                    .try_for_each(|p| self.emit(p, l, pool))
            } else {
                let parts: Vec<Vec<u8>> = s.parts.into_iter().flatten().collect();
                let mut reply = Vec::new();
                route::combine(s.combine, &parts, &mut reply);
                self.push(&reply, l, pool)
            };
            self.slots = rest;
            r?;
        }
        Ok(())
    }

    /// A reply from another core for this connection's command `seq`, part `part`.
    /// Unknown or duplicate parts are ignored.
    pub fn deliver(
        &mut self,
        seq: u64,
        part: u32,
        bytes: Vec<u8>,
        l: &Limits,
        pool: &mut Pool,
    ) -> Result<(), GrowError> {
        let Some(i) = seq.checked_sub(self.base) else {
            return Ok(());
        };
        let Some(slot) = self.slots.get_mut(i as usize) else {
            return Ok(());
        };
        let Some(p) = slot.parts.get_mut(part as usize) else {
            return Ok(());
        };
        if p.is_some() {
            return Ok(());
        }
        if bytes.len() > l.max_reply {
            return Err(GrowError::OverLimit);
        }
        pool.try_take(bytes.len())?;
        self.held += bytes.len();
        *p = Some(bytes);
        slot.missing -= 1;
        self.flush_slots(l, pool)
    }

    /// Bytes waiting to be sent (in order; later replies may still wait for other cores).
    pub fn output(&self) -> &[u8] {
        &self.out[self.sent..]
    }

    /// Marks `n` output bytes as sent.
    pub fn consumed(&mut self, n: usize) {
        self.sent = (self.sent + n).min(self.out.len());
        if self.sent == self.out.len() {
            self.out.clear();
            self.sent = 0;
        }
    }

    /// Gives idle capacity back to the pool.
    pub fn trim(&mut self, l: &Limits, pool: &mut Pool) {
        if self.out.is_empty() {
            shrink(&mut self.out, l.keep_out, pool);
        }
        if self.input.is_empty() {
            shrink(&mut self.input, 0, pool);
        }
    }

    /// Frees everything and returns it to the pool (the connection is gone).
    pub fn release(&mut self, pool: &mut Pool) {
        release(&mut self.input, pool);
        release(&mut self.out, pool);
        pool.give(self.held);
        self.held = 0;
        self.slots.clear();
        self.sent = 0;
    }

    /// Bytes charged to the pool by this connection.
    pub fn memory(&self) -> usize {
        self.input.capacity() + self.out.capacity() + self.held
    }

    /// The peer finished sending: answer what is buffered, then close.
    pub fn peer_closed(&mut self) {
        self.peer_done = true;
    }

    /// Close now: asked to (QUIT, protocol error, peer done) and everything is sent.
    pub fn done(&self) -> bool {
        self.closing && self.slots.is_empty() && self.output().is_empty()
    }

    /// Whether the connection waits for the client (nothing buffered, nothing to send).
    pub fn idle(&self) -> bool {
        self.input.is_empty() && self.output().is_empty() && self.slots.is_empty()
    }

    /// Whether replies are still expected from other cores.
    pub fn waiting(&self) -> bool {
        !self.slots.is_empty()
    }
}
