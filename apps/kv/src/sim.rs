//! Several cores' servers and the rings between them in one thread, for tests and the fuzz
//! target: clients' sessions driven pass by pass as the appliance drives them.

use alloc::vec::Vec;

use corenet_http::budget::{GrowError, Pool};

use crate::links::{Links, Msg, RING, wire};
use crate::node::Node;
use crate::session::{Limits, Session};
use crate::store::Policy;
use heapless::spsc::Queue;

/// The cores, with their rings in `'a` (from [`crate::links::rings`]).
pub struct Machine<'a> {
    /// Each core's server.
    pub nodes: Vec<Node>,
    links: Vec<Links<'a>>,
    /// The buffer pool (shared by all sessions here).
    pub pool: Pool,
    /// Messages taken off the rings (monotonic).
    pub messages: u64,
    /// Most parts or replies one message carried.
    pub largest: usize,
}

impl<'a> Machine<'a> {
    /// `cores` cores with `store` bytes of keys each and a `pool`-byte buffer pool, over
    /// `rings` (`crate::links::rings(cores)`).
    pub fn new(cores: usize, store: usize, pool: usize, rings: &'a mut [Queue<Msg, RING>]) -> Self {
        Self {
            nodes: (0..cores)
                .map(|c| Node::new(c, cores, store, Policy::NoEviction, c as u64 + 1))
                .collect(),
            links: wire(cores, rings),
            pool: Pool::new(pool),
            messages: 0,
            largest: 0,
        }
    }

    /// One pass of every core over `sessions` (as `(core, session)`): parts other cores
    /// sent are run, replies delivered, buffered commands answered, parts sent on. An error
    /// is a session that could not grow a buffer (the appliance sheds it).
    pub fn step(&mut self, sessions: &mut [(usize, Session)], l: &Limits) -> Result<(), GrowError> {
        for c in 0..self.nodes.len() {
            while let Some(m) = self.links[c].receive() {
                self.messages += 1;
                self.largest = self.largest.max(m.len());
                match m {
                    Msg::Forwards(batch) => {
                        for f in batch {
                            let r = self.nodes[c].serve(&f, 0);
                            self.links[c].reply(f.from, r);
                        }
                    }
                    Msg::Replies(batch) => {
                        for r in batch {
                            if let Some((_, s)) = sessions
                                .iter_mut()
                                .find(|(sc, s)| *sc == c && s.token == r.token)
                            {
                                s.deliver(r.seq, r.part, r.bytes, l, &mut self.pool)?;
                            }
                        }
                    }
                }
            }
            for (c2, s) in sessions.iter_mut() {
                if *c2 == c {
                    s.pump(l, &mut self.pool, &mut self.nodes[c], 0)?;
                }
            }
            for (to, f) in self.nodes[c].outbox.drain(..) {
                self.links[c].forward(to, f);
            }
            self.links[c].flush();
        }
        Ok(())
    }

    /// Feeds `input` to one client on the last core, cut every `chunk` bytes and given only
    /// as fast as the session takes it, reading all output each pass; returns the output
    /// (up to a shed). Checks on the way that the pool is charged with exactly what the
    /// session holds and that unsent output stays bounded.
    pub fn serve_one(&mut self, input: &[u8], chunk: usize, l: &Limits) -> Vec<u8> {
        let core = self.nodes.len() - 1;
        let mut sessions = [(core, Session::new(7))];
        let mut got = Vec::new();
        let mut at = 0;
        let mut idle_passes = 0;
        let mut passes = 0usize;
        loop {
            passes += 1;
            // Each pass takes input or answers; a session that does neither is stuck.
            assert!(
                passes < 4 * input.len() + 10_000,
                "a session makes no progress"
            );
            let (c, s) = &mut sessions[0];
            let room = s.input_room(l).min(chunk.max(1)).min(input.len() - at);
            if room > 0 {
                let r = s.on_input(
                    &input[at..at + room],
                    l,
                    &mut self.pool,
                    &mut self.nodes[*c],
                    0,
                );
                if r.is_err() {
                    break;
                }
                at += room;
            }
            if self.step(&mut sessions, l).is_err() {
                break;
            }
            let s = &mut sessions[0].1;
            assert_eq!(
                self.pool.used(),
                s.memory(),
                "pool charged what the session holds"
            );
            assert!(
                s.output().len() <= l.max_out + l.max_reply,
                "unsent output bounded"
            );
            got.extend_from_slice(s.output());
            let n = s.output().len();
            s.consumed(n);
            s.trim(l, &mut self.pool);
            if s.done() {
                break;
            }
            if at == input.len() {
                // The client sent everything and half-closes, as TCP would tell us.
                s.peer_closed();
                idle_passes += 1;
                // Every part is answered within a pass or two of being sent.
                assert!(idle_passes < 10_000, "a session waits for good");
            }
        }
        sessions[0].1.release(&mut self.pool);
        got
    }
}
