//! One client connection: pipelined commands answered in order, whether they run here or on
//! the core owning their key, with bounded input and output charged to the core's pool.
//!
//! A command whose key this core owns is answered at once into the output; one that goes to
//! another core takes a slot in a queue, and every reply after it waits in the queue too
//! until the slot is filled, so replies leave in request order. No more input is parsed while
//! the unsent output, or the number of waiting slots, is at its bound (back-pressure: the
//! client's further commands wait in its TCP window, not in our heap).
//!
//! The parts: `input` parses and routes commands (here, or to the cores owning their
//! keys), `order` keeps the replies in request order; this file holds the connection's
//! state, its bounds and its life cycle (output taken by the socket, trim, release, close).

mod input;
mod order;

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::ops::Range;

use corenet_http::budget::{Pool, release, shrink};

use crate::resp;
use order::Slot;

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
            max_reply: crate::reply::MAX_REPLY,
            keep_out: 2 * 1024,
        }
    }
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
    /// Scratch for one local command's reply, reused (at most 512 bytes kept).
    reply: Vec<u8>,
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
            reply: Vec::new(),
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

    /// Input is buffered (a partial command, or commands waiting for output room): a
    /// pump after output drained may answer more without any new bytes.
    pub fn has_input(&self) -> bool {
        !self.input.is_empty()
    }

    /// Whether replies are still expected from other cores.
    pub fn waiting(&self) -> bool {
        !self.slots.is_empty()
    }
}
