//! Rings between cores for command parts and their replies: one `heapless::spsc` ring per
//! ordered pair of cores (one producer, one consumer, no lock), as the network's mesh.
//!
//! Parts and replies are batched: what a pass has for one core goes as one message (at most
//! [`MAX_BATCH`] items each), in the order it was queued, so a pipeline whose keys live on
//! both cores costs one message each way per pass, not one per command, and the other core
//! answers all of it in one of its passes. Per ring, messages arrive in the order they were
//! sent, which is what keeps a connection's replies in request order.
//!
//! Nothing may be dropped (a lost part would leave a connection waiting for good), so a
//! message meeting a full ring waits in the sender's backlog for that core, which
//! [`Links::flush`] retries every pass, in order. The backlog is bounded by what the
//! connections may have outstanding (`session::Limits::max_waiting` each).

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::vec::Vec;

use heapless::spsc::{Consumer, Producer, Queue};

use crate::node::{Forward, Reply};

/// Messages per ring.
pub const RING: usize = 256;

/// Items per message at most (a larger pass sends several messages).
pub const MAX_BATCH: usize = 256;

/// What one core sends another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Msg {
    /// Run these parts of commands on your keys, in this order.
    Forwards(Vec<Forward>),
    /// The replies to parts you sent, in the order you sent them.
    Replies(Vec<Reply>),
}

impl Msg {
    /// Parts or replies carried.
    pub fn len(&self) -> usize {
        match self {
            Msg::Forwards(v) => v.len(),
            Msg::Replies(v) => v.len(),
        }
    }

    /// Whether it carries nothing (never sent).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Wakes a core that may be halted (after a message for it became visible).
pub type Wake = fn(usize);

/// One core's ends of the rings (which live for `'a`).
pub struct Links<'a> {
    me: usize,
    to: Vec<Option<Producer<'a, Msg>>>,
    from: Vec<Consumer<'a, Msg>>,
    /// This pass's parts and replies per destination, not yet in a message.
    forwards: Vec<Vec<Forward>>,
    replies: Vec<Vec<Reply>>,
    backlog: Vec<VecDeque<Msg>>,
    next_from: usize,
    wake: Option<Wake>,
    /// Messages put on rings (monotonic).
    pub sent: u64,
    /// Parts and replies in them (monotonic).
    pub items: u64,
    /// Times a message met a full ring and stayed in the backlog for a later pass (monotonic).
    pub full: u64,
}

/// The rings `cores` cores need (one per ordered pair), for [`wire`].
pub fn rings(cores: usize) -> Vec<Queue<Msg, RING>> {
    (0..cores * cores.saturating_sub(1))
        .map(|_| Queue::new())
        .collect()
}

/// Builds the rings between `cores` cores for the rest of the program (leaked once at
/// start-up, which lets each end move to its core); element `i` is core `i`'s.
pub fn links(cores: usize) -> Vec<Links<'static>> {
    wire(cores, Box::leak(rings(cores).into_boxed_slice()))
}

/// Splits `queues` (from [`rings`]) into every core's ends; element `i` is core `i`'s.
pub fn wire(cores: usize, queues: &mut [Queue<Msg, RING>]) -> Vec<Links<'_>> {
    let mut all: Vec<Links<'_>> = (0..cores)
        .map(|me| Links {
            me,
            to: (0..cores).map(|_| None).collect(),
            from: Vec::new(),
            forwards: (0..cores).map(|_| Vec::new()).collect(),
            replies: (0..cores).map(|_| Vec::new()).collect(),
            backlog: (0..cores).map(|_| VecDeque::new()).collect(),
            next_from: 0,
            wake: None,
            sent: 0,
            items: 0,
            full: 0,
        })
        .collect();
    let mut queues = queues.iter_mut();
    for src in 0..cores {
        for dst in 0..cores {
            if src != dst
                && let Some(q) = queues.next()
            {
                let (p, c) = q.split();
                all[src].to[dst] = Some(p);
                all[dst].from.push(c);
            }
        }
    }
    all
}

fn batches<T>(items: &mut Vec<T>, wrap: fn(Vec<T>) -> Msg, q: &mut VecDeque<Msg>) {
    let mut sent = 0;
    while !items.is_empty() {
        let rest = items.split_off(items.len().min(MAX_BATCH));
        let batch = core::mem::replace(items, rest);
        sent = batch.len();
        q.push_back(wrap(batch));
    }
    // The next pass likely sends as many: one allocation of that size now, not a
    // doubling from 4 as they are pushed.
    if sent > 0 && items.capacity() < sent {
        items.reserve_exact(sent);
    }
}

impl Links<'_> {
    /// This core.
    pub fn core(&self) -> usize {
        self.me
    }

    /// Makes [`flush`](Self::flush) call `wake(core)` for each core it put a message on the
    /// ring of (the guest's wake-up IPI for a halted core).
    pub fn set_wake(&mut self, wake: Wake) {
        self.wake = Some(wake);
    }

    fn exists(&self, to: usize) -> bool {
        matches!(self.to.get(to), Some(Some(_)))
    }

    /// Queues part `f` for core `to` (sent by the next [`flush`](Self::flush)); false only
    /// for a core that does not exist or is this one.
    pub fn forward(&mut self, to: usize, f: Forward) -> bool {
        if !self.exists(to) {
            return false;
        }
        self.forwards[to].push(f);
        true
    }

    /// Queues reply `r` for core `to`, as [`forward`](Self::forward).
    pub fn reply(&mut self, to: usize, r: Reply) -> bool {
        if !self.exists(to) {
            return false;
        }
        self.replies[to].push(r);
        true
    }

    /// Sends what was queued this pass (one message per core and kind, split at
    /// [`MAX_BATCH`]) and backlogged messages, as far as the rings have room, then wakes the
    /// cores that got something; returns how many messages still wait.
    pub fn flush(&mut self) -> usize {
        let mut left = 0;
        for dst in 0..self.to.len() {
            let Some(p) = self.to[dst].as_mut() else {
                continue;
            };
            let q = &mut self.backlog[dst];
            batches(&mut self.forwards[dst], Msg::Forwards, q);
            batches(&mut self.replies[dst], Msg::Replies, q);
            let mut posted = false;
            while let Some(m) = q.pop_front() {
                let n = m.len() as u64;
                if let Err(m) = p.enqueue(m) {
                    q.push_front(m);
                    self.full += 1;
                    break;
                }
                posted = true;
                self.sent += 1;
                self.items += n;
            }
            left += q.len();
            if posted && let Some(wake) = self.wake {
                wake(dst);
            }
        }
        left
    }

    /// The next message for this core, taking the rings in turn so that no core starves
    /// another.
    pub fn receive(&mut self) -> Option<Msg> {
        let n = self.from.len();
        for i in 0..n {
            let at = (self.next_from + i) % n;
            if let Some(m) = self.from[at].dequeue() {
                self.next_from = (at + 1) % n;
                return Some(m);
            }
        }
        None
    }
}
