//! A connection's replies in request order: a reply waits behind the commands still out on
//! other cores (their slots), and leaves when everything before it has.

use alloc::vec::Vec;

use corenet_http::budget::{GrowError, Pool, try_grow};

use super::{Limits, Session};
use crate::route::{self, Combine};

/// A slot's replies, one per part (`None` while out on another core). The first is held
/// inline: most slots have one part (a single-key command for another core, or local
/// replies queued behind one), and a vector for it was one more allocation per slot.
#[derive(Debug)]
pub(super) struct Parts {
    first: Option<Option<Vec<u8>>>,
    rest: Vec<Option<Vec<u8>>>,
}

impl Parts {
    /// Room for `n` parts.
    pub(super) fn with_capacity(n: usize) -> Self {
        Self {
            first: None,
            rest: Vec::with_capacity(n.saturating_sub(1)),
        }
    }

    /// One part, filled.
    fn one(reply: Vec<u8>) -> Self {
        Self {
            first: Some(Some(reply)),
            rest: Vec::new(),
        }
    }

    pub(super) fn push(&mut self, p: Option<Vec<u8>>) {
        if self.first.is_none() {
            self.first = Some(p);
        } else {
            self.rest.push(p);
        }
    }

    fn get_mut(&mut self, i: usize) -> Option<&mut Option<Vec<u8>>> {
        match i {
            0 => self.first.as_mut(),
            _ => self.rest.get_mut(i - 1),
        }
    }

    fn last_mut(&mut self) -> Option<&mut Option<Vec<u8>>> {
        match self.rest.last_mut() {
            Some(p) => Some(p),
            None => self.first.as_mut(),
        }
    }

    fn iter(&self) -> impl Iterator<Item = &Option<Vec<u8>>> {
        self.first.iter().chain(self.rest.iter())
    }

    fn into_filled(self) -> impl Iterator<Item = Vec<u8>> {
        self.first.into_iter().chain(self.rest).flatten()
    }
}

/// A command waiting for other cores, or replies queued behind one.
#[derive(Debug)]
pub(super) struct Slot {
    pub(super) parts: Parts,
    pub(super) missing: usize,
    pub(super) combine: Combine,
    /// Bytes of this command's arguments in flight to other cores, charged to the pool
    /// (and counted as pending output, so a client cannot park more than `max_out` of
    /// them on other cores) until the command's reply is out.
    pub(super) in_flight: usize,
}

impl Session {
    /// Appends a reply in order: to the output, or behind the slots still waiting.
    pub(super) fn push(
        &mut self,
        reply: &[u8],
        l: &Limits,
        pool: &mut Pool,
    ) -> Result<(), GrowError> {
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
            parts: Parts::one(reply.to_vec()),
            missing: 0,
            combine: Combine::Single,
            in_flight: 0,
        });
        Ok(())
    }

    /// Moves the filled slots at the front to the output.
    pub(super) fn flush_slots(&mut self, l: &Limits, pool: &mut Pool) -> Result<(), GrowError> {
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
                let parts: Vec<Vec<u8>> = s.parts.into_filled().collect();
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
}
