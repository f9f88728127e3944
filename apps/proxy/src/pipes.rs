//! A core's pipes, pumped by news rather than all of them every pass.
//!
//! [`Pipes::pump`] pumps the pipes one of whose connections the stack lists in
//! `Sockets::take_ready` (a segment arrived or a timer fired), the pipes added since the last
//! pass, the pipes whose last pump moved bytes (moving may have made room that no segment
//! will announce), and a slice of all of them paced by [`Sweep`] (each once per 250 ms),
//! so a pass costs what its traffic costs, not what its open pipes number.

use alloc::vec::Vec;

use corenet::prelude::{Sockets, Sweep};

use crate::pipe::{Moved, Outcome, Pipe};

/// `at` for a slot with no pipe of ours.
const NONE: u32 = u32::MAX;

/// A core's open pipes.
pub struct Pipes {
    list: Vec<Pipe>,
    /// Per stack slot (`Conn::slot`), the index in `list` of the pipe holding it.
    at: Vec<u32>,
    /// Slots to look at in the next pump (pipes added, pipes that moved bytes).
    next: Vec<u32>,
    /// The stack's news (scratch, kept between passes).
    ready: Vec<u32>,
    sweep: Sweep,
    /// Pumps made (the passes' cost in pipes).
    pub pumps: u64,
}

impl Pipes {
    /// No pipes; the sweep's clock starts at `now_ns`.
    pub fn new(now_ns: u64) -> Self {
        Self {
            list: Vec::new(),
            at: Vec::new(),
            next: Vec::new(),
            ready: Vec::new(),
            sweep: Sweep::new(now_ns),
            pumps: 0,
        }
    }

    /// Open pipes.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// No pipe open.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Adds a pipe; it is pumped in the next [`pump`](Self::pump).
    pub fn add(&mut self, p: Pipe) {
        let i = self.list.len() as u32;
        for slot in [p.client().slot(), p.backend().slot()] {
            self.place(slot, i);
        }
        self.next.push(p.client().slot());
        self.list.push(p);
    }

    /// Takes every pipe out (shutting down).
    pub fn drain(&mut self) -> impl Iterator<Item = Pipe> + '_ {
        self.at.clear();
        self.next.clear();
        self.list.drain(..)
    }

    /// Pumps the pipes that may move (see the module doc) at `now_ns`; `f` sees each pump's
    /// pipe, outcome and bytes moved (a pipe whose outcome is not `Open` is then dropped).
    /// Returns whether anything moved or ended.
    pub fn pump(
        &mut self,
        s: &mut dyn Sockets,
        now_ns: u64,
        f: &mut dyn FnMut(&Pipe, Outcome, Moved),
    ) -> bool {
        let mut slots = core::mem::take(&mut self.next);
        s.take_ready(&mut self.ready);
        slots.append(&mut self.ready);
        slots.sort_unstable();
        slots.dedup();
        let mut work = false;
        for &slot in &slots {
            if let Some(&i) = self.at.get(slot as usize)
                && i != NONE
            {
                work |= self.pump_one(i as usize, s, f).0;
            }
        }
        slots.clear();
        self.ready = slots;
        let mut due = self.sweep.due(now_ns, self.list.len());
        while due > 0 && !self.list.is_empty() {
            due -= 1;
            let i = self.sweep.next(self.list.len());
            let (moved, kept) = self.pump_one(i, s, f);
            work |= moved;
            if kept {
                self.sweep.advance();
            }
        }
        // Pipes to pump again in the next pass: the core must not halt meanwhile.
        work || !self.next.is_empty()
    }

    /// Pumps pipe `i`; returns whether anything moved or ended, and whether it is still at `i`.
    fn pump_one(
        &mut self,
        i: usize,
        s: &mut dyn Sockets,
        f: &mut dyn FnMut(&Pipe, Outcome, Moved),
    ) -> (bool, bool) {
        self.pumps += 1;
        let p = &mut self.list[i];
        let (outcome, moved) = p.pump(s);
        f(p, outcome, moved);
        if outcome == Outcome::Open {
            let moved = moved.up + moved.down > 0;
            if moved {
                self.next.push(p.client().slot());
            }
            return (moved, true);
        }
        let gone = self.list.swap_remove(i);
        for slot in [gone.client().slot(), gone.backend().slot()] {
            self.at[slot as usize] = NONE;
        }
        if let Some(moved) = self.list.get(i) {
            for slot in [moved.client().slot(), moved.backend().slot()] {
                self.at[slot as usize] = i as u32;
            }
        }
        (true, false)
    }

    fn place(&mut self, slot: u32, i: u32) {
        let s = slot as usize;
        if s >= self.at.len() {
            self.at.resize(s + 1, NONE);
        }
        self.at[s] = i;
    }
}
