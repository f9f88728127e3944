//! Rings between cores for command parts and their replies: one `heapless::spsc` ring per
//! ordered pair of cores (one producer, one consumer, no lock), as the network's mesh.
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

/// What one core sends another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Msg {
    /// Run this part of a command on your keys.
    Forward(Forward),
    /// The reply to a part you sent.
    Reply(Reply),
}

/// One core's ends of the rings (which live for `'a`).
pub struct Links<'a> {
    me: usize,
    to: Vec<Option<Producer<'a, Msg>>>,
    from: Vec<Consumer<'a, Msg>>,
    backlog: Vec<VecDeque<Msg>>,
    next_from: usize,
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
            backlog: (0..cores).map(|_| VecDeque::new()).collect(),
            next_from: 0,
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

impl Links<'_> {
    /// This core.
    pub fn core(&self) -> usize {
        self.me
    }

    /// Sends `msg` to core `to` (now, or from the backlog later); false only for a core
    /// that does not exist or is this one.
    pub fn send(&mut self, to: usize, msg: Msg) -> bool {
        let Some(Some(p)) = self.to.get_mut(to) else {
            return false;
        };
        let q = &mut self.backlog[to];
        if q.is_empty() {
            match p.enqueue(msg) {
                Ok(()) => return true,
                Err(m) => q.push_back(m),
            }
        } else {
            q.push_back(msg);
        }
        true
    }

    /// Moves backlogged messages to their rings as far as they have room; returns how
    /// many are still waiting.
    pub fn flush(&mut self) -> usize {
        let mut left = 0;
        for (p, q) in self.to.iter_mut().zip(self.backlog.iter_mut()) {
            let Some(p) = p else { continue };
            while let Some(m) = q.pop_front() {
                if let Err(m) = p.enqueue(m) {
                    q.push_front(m);
                    break;
                }
            }
            left += q.len();
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
