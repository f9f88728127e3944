//! Collections that know the bytes they count for, so a write's memory accounting is O(1).
//!
//! The store charges every key for its value's bytes before and after each write. Walking a
//! list, set, hash or sorted set for that made every LPUSH on a long list O(n): 50 000
//! pipelined LPUSHes to one key took quadratic time, and a client could make any write to a
//! large collection as slow as it liked. Each collection here updates its byte count in the
//! mutation itself; reads go through `Deref` to the collection underneath.

use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::vec::Vec;
use core::ops::Deref;

use crate::store::{ELEMENT_OVERHEAD, Score};

/// A collection and the bytes its elements count for (element bytes plus
/// [`ELEMENT_OVERHEAD`] each).
#[derive(Debug, Default, Clone)]
pub struct Counted<C> {
    items: C,
    bytes: usize,
}

impl<C> Counted<C> {
    /// The bytes the elements count for.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

impl<C> Deref for Counted<C> {
    type Target = C;
    fn deref(&self) -> &C {
        &self.items
    }
}

fn cost(len: usize) -> usize {
    len + ELEMENT_OVERHEAD
}

/// A list value.
pub type List = Counted<VecDeque<Vec<u8>>>;

impl List {
    /// Adds `v` at the head.
    pub fn push_front(&mut self, v: Vec<u8>) {
        self.bytes += cost(v.len());
        self.items.push_front(v);
    }

    /// Adds `v` at the tail.
    pub fn push_back(&mut self, v: Vec<u8>) {
        self.bytes += cost(v.len());
        self.items.push_back(v);
    }

    /// Takes the head.
    pub fn pop_front(&mut self) -> Option<Vec<u8>> {
        let v = self.items.pop_front()?;
        self.bytes -= cost(v.len());
        Some(v)
    }

    /// Takes the tail.
    pub fn pop_back(&mut self) -> Option<Vec<u8>> {
        let v = self.items.pop_back()?;
        self.bytes -= cost(v.len());
        Some(v)
    }
}

/// A set value.
pub type Set = Counted<BTreeSet<Vec<u8>>>;

impl Set {
    /// Adds `m`; false when it was there already.
    pub fn insert(&mut self, m: Vec<u8>) -> bool {
        let n = cost(m.len());
        let added = self.items.insert(m);
        if added {
            self.bytes += n;
        }
        added
    }

    /// Removes `m`; false when it was not there.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        let removed = self.items.remove(m);
        if removed {
            self.bytes -= cost(m.len());
        }
        removed
    }
}

/// A hash value.
pub type Hash = Counted<BTreeMap<Vec<u8>, Vec<u8>>>;

impl Hash {
    /// Sets field `f` to `v`; the old value, if any.
    pub fn insert(&mut self, f: Vec<u8>, v: Vec<u8>) -> Option<Vec<u8>> {
        let n = cost(f.len() + v.len());
        let flen = f.len();
        let old = self.items.insert(f, v);
        self.bytes += n;
        if let Some(o) = &old {
            self.bytes -= cost(flen + o.len());
        }
        old
    }
}

/// A sorted set: scores by member, and members ordered by (score, member). Each member
/// counts twice (it is stored in both maps).
#[derive(Debug, Default, Clone)]
pub struct ZSet {
    by_member: BTreeMap<Vec<u8>, Score>,
    by_score: BTreeSet<(Score, Vec<u8>)>,
    bytes: usize,
}

impl ZSet {
    /// Members.
    pub fn len(&self) -> usize {
        self.by_member.len()
    }

    /// Whether it has no member.
    pub fn is_empty(&self) -> bool {
        self.by_member.is_empty()
    }

    /// The score of `m`.
    pub fn score(&self, m: &[u8]) -> Option<Score> {
        self.by_member.get(m).copied()
    }

    /// Sets the score of `m` (adding it when new).
    pub fn set(&mut self, m: &[u8], s: Score) {
        match self.by_member.get(m).copied() {
            Some(old) => {
                self.by_score.remove(&(old, m.to_vec()));
            }
            None => self.bytes += 2 * cost(m.len()),
        }
        self.by_score.insert((s, m.to_vec()));
        self.by_member.insert(m.to_vec(), s);
    }

    /// Takes the member with the lowest score (ties: the lowest member).
    pub fn pop_min(&mut self) -> Option<(Score, Vec<u8>)> {
        let (s, m) = self.by_score.pop_first()?;
        self.by_member.remove(&m);
        self.bytes -= 2 * cost(m.len());
        Some((s, m))
    }

    /// The bytes the members count for.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    fn walk_list(l: &List) -> usize {
        l.iter().map(|e| cost(e.len())).sum()
    }

    #[test]
    fn counts_follow_every_mutation() {
        let mut l = List::default();
        l.push_front(b"abc".to_vec());
        l.push_back(b"de".to_vec());
        l.push_front(Vec::new());
        assert_eq!(l.bytes(), walk_list(&l));
        assert_eq!(l.pop_back(), Some(b"de".to_vec()));
        assert_eq!(l.bytes(), walk_list(&l));
        l.pop_front();
        l.pop_front();
        assert_eq!((l.bytes(), l.pop_front()), (0, None));

        let mut s = Set::default();
        assert!(s.insert(b"x".to_vec()) && !s.insert(b"x".to_vec()) && s.insert(b"yy".to_vec()));
        assert_eq!(s.bytes(), cost(1) + cost(2));
        assert!(s.remove(b"x") && !s.remove(b"x"));
        assert_eq!(s.bytes(), cost(2));

        let mut h = Hash::default();
        h.insert(b"f".to_vec(), b"1234".to_vec());
        h.insert(b"f".to_vec(), b"1".to_vec());
        h.insert(b"g".to_vec(), Vec::new());
        assert_eq!(h.bytes(), cost(2) + cost(1));

        let mut z = ZSet::default();
        z.set(b"m", Score(2.0));
        z.set(b"m", Score(1.0));
        z.set(b"nn", Score(1.0));
        assert_eq!((z.len(), z.bytes()), (2, 2 * (cost(1) + cost(2))));
        assert_eq!(z.pop_min(), Some((Score(1.0), b"m".to_vec())));
        assert_eq!(z.bytes(), 2 * cost(2));
        assert_eq!(z.score(b"nn"), Some(Score(1.0)));
    }
}
