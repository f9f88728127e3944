//! A connection's input: commands parsed from what the client sent, answered here or sent
//! to the core owning their keys, within the connection's bounds.

use alloc::vec::Vec;

use corenet_http::budget::{GrowError, Pool, try_grow};

use super::order::{Parts, Slot};
use super::{Limits, Session};
use crate::node::{Forward, Node};
use crate::resp::{self, Parse};
use crate::route::{self, Plan};

impl Session {
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
        // One vector of argument slices for the whole batch (not one per command).
        let mut args: Vec<&[u8]> = Vec::new();
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
                    args.clear();
                    args.extend(ranges.iter().map(|g| &buf[base + g.start..base + g.end]));
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
                // The reply is made in a buffer the session keeps (no allocation per command).
                let mut reply = core::mem::take(&mut self.reply);
                reply.clear();
                node.exec(args, self.token, now_ms, &mut reply);
                let r = self.push(&reply, l, pool);
                // A large reply's buffer is not kept (the pool does not count it).
                if reply.capacity() <= 512 {
                    self.reply = reply;
                }
                r
            }
            Plan::Split(parts, combine) => {
                node.info.forwarded += 1;
                let seq = self.base + self.slots.len() as u64;
                let mut slot = Slot {
                    parts: Parts::with_capacity(parts.len()),
                    missing: 0,
                    combine,
                    in_flight: 0,
                };
                for (i, p) in parts.into_iter().enumerate() {
                    if p.owner == node.me {
                        let mut reply = Vec::new();
                        let token = self.token;
                        p.args.with(|a| node.exec(a, token, now_ms, &mut reply));
                        pool.try_take(reply.len())?;
                        self.held += reply.len();
                        slot.parts.push(Some(reply));
                    } else {
                        let cost = p.args.bytes();
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
}
