//! A hash table from byte-string keys, for the store: open addressing, linear probing,
//! growth that never fails the machine and never stops it for long.
//!
//! Why not `BTreeMap<Vec<u8>, V>` or a tree ordered by the key's hash (this map's first two
//! forms): with 100 000 random keys a lookup walked five or six tree nodes, each in its own
//! heap block, before it reached the key; under TCG every guest cache line and page a lookup
//! touches costs a host memory access and often a software-TLB fill, and redis-benchmark's
//! random-key runs went at half the one-key rate. Here a lookup reads one or two 16-byte
//! slots (the key's hash and a pointer), side by side in one array, then the key's node.
//!
//! Why not `hashbrown`: its safe `HashTable` has no position to start an iteration from
//! (eviction samples keys from a rotating cursor, as Redis's `maxmemory-samples` does) and
//! grows in one step: a table of millions of keys is rehashed whole inside one command. Here
//! growth is incremental, as Redis's `dict` does it: the new table is allocated (fallibly),
//! then each later call moves [`STEP`] slots of the old one; lookups look in both meanwhile.
//! An allocation that fails leaves the map as it was and working, up to 7/8 full;
//! [`room`](KeyMap::room) tells the store when no more keys fit, and the command gets `-OOM`.
//!
//! The hash is SipHash-2-4 with a per-core random key, so a client cannot choose keys that
//! collide; a slot's home is the hash's top bits, so slots are in hash order (eviction's
//! rotating sample is spread over the keyspace).

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::hash::Hasher;

/// Slots of the old table moved per call while the table grows or shrinks.
const STEP: usize = 16;
/// The smallest table.
const MIN_SLOTS: usize = 16;

/// A key and its value, in one heap block (the key's bytes in another).
#[derive(Debug, Clone)]
struct Node<V> {
    key: Box<[u8]>,
    value: V,
}

/// `hash` of a slot without a node: never used, or (in a table being emptied only) left
/// by a node that moved or was removed, which a probe must pass over.
const EMPTY: u64 = 0;
const GONE: u64 = 1;

#[derive(Debug, Clone)]
struct Slot<V> {
    hash: u64,
    node: Option<Box<Node<V>>>,
}

impl<V> Slot<V> {
    const EMPTY: Self = Slot {
        hash: EMPTY,
        node: None,
    };
}

/// One power-of-two array of slots.
#[derive(Debug, Clone)]
struct Table<V> {
    slots: Vec<Slot<V>>,
    /// `64 - log2(slots)`: a hash's top bits are its home slot.
    shift: u32,
    len: usize,
}

impl<V> Table<V> {
    const NONE: Self = Table {
        slots: Vec::new(),
        shift: 64,
        len: 0,
    };

    /// A table of `n` (a power of two, at least [`MIN_SLOTS`]) empty slots, or `None` when
    /// the heap cannot give them (or `n` is over `max`, the tests' stand-in for that).
    fn with_slots(n: usize, max: usize) -> Option<Self> {
        if n > max {
            return None;
        }
        let mut slots = Vec::new();
        slots.try_reserve_exact(n).ok()?;
        slots.resize_with(n, || Slot::EMPTY);
        Some(Table {
            slots,
            shift: 64 - n.trailing_zeros(),
            len: 0,
        })
    }

    fn mask(&self) -> usize {
        self.slots.len().wrapping_sub(1)
    }

    fn home(&self, h: u64) -> usize {
        // Shifting a u64 by 64 would overflow: an unallocated table has no home to give.
        h.checked_shr(self.shift).unwrap_or(0) as usize
    }

    /// The slot holding `key` (hash `h`).
    fn find(&self, h: u64, key: &[u8]) -> Option<usize> {
        let mask = self.mask();
        let mut i = self.home(h);
        // Every table keeps empty slots (at most 7/8 full), so a probe ends; the bound is
        // for a table full of moved-out slots.
        for _ in 0..self.slots.len() {
            let s = &self.slots[i];
            match &s.node {
                Some(n) if s.hash == h && *n.key == *key => return Some(i),
                None if s.hash == EMPTY => return None,
                _ => {}
            }
            i = (i + 1) & mask;
        }
        None
    }

    /// Puts `node` in the first free slot from its home (a table being filled: no `GONE`
    /// slots in it). The caller has kept a slot free.
    fn place(&mut self, h: u64, node: Box<Node<V>>) {
        let mask = self.mask();
        let mut i = self.home(h);
        while self.slots[i].node.is_some() {
            i = (i + 1) & mask;
        }
        self.slots[i] = Slot {
            hash: h,
            node: Some(node),
        };
        self.len += 1;
    }

    /// Takes the node of slot `i` and closes the gap, so that no probe meets an empty slot
    /// before its key: each later node of the run moves back into the hole if the hole is
    /// not before its home (distances taken around the end of the array).
    fn take(&mut self, mut hole: usize) -> Option<Box<Node<V>>> {
        let node = core::mem::replace(&mut self.slots[hole], Slot::EMPTY).node?;
        self.len -= 1;
        let mask = self.mask();
        let mut j = (hole + 1) & mask;
        while self.slots[j].node.is_some() {
            let home = self.home(self.slots[j].hash);
            if (j.wrapping_sub(home) & mask) >= (j.wrapping_sub(hole) & mask) {
                self.slots.swap(hole, j);
                hole = j;
            }
            j = (j + 1) & mask;
        }
        Some(node)
    }

    /// Takes the node of slot `i` of a table being emptied, leaving a `GONE` mark.
    fn take_leaving_gone(&mut self, i: usize) -> Option<Box<Node<V>>> {
        let s = core::mem::replace(
            &mut self.slots[i],
            Slot {
                hash: GONE,
                node: None,
            },
        );
        if s.node.is_some() {
            self.len -= 1;
        }
        s.node
    }

    #[cfg(test)]
    fn nodes(&self) -> impl Iterator<Item = &Node<V>> {
        self.slots.iter().filter_map(|s| s.node.as_deref())
    }
}

/// The map.
#[derive(Debug, Clone)]
pub struct KeyMap<V> {
    /// Where new keys go.
    table: Table<V>,
    /// While the map resizes: the table being emptied into `table`, and the next slot of it
    /// to move.
    old: Option<(Table<V>, usize)>,
    seed: (u64, u64),
    /// Largest table allowed (tests lower it to stand for a heap that has no more).
    max_slots: usize,
}

impl<V> KeyMap<V> {
    /// An empty map whose hash is keyed by `seed` (random per core in the guest).
    pub fn new(seed: (u64, u64)) -> Self {
        Self {
            table: Table::NONE,
            old: None,
            seed,
            max_slots: usize::MAX,
        }
    }

    /// The seed it was made with.
    pub fn seed(&self) -> (u64, u64) {
        self.seed
    }

    /// The key's hash (also its place in the order).
    pub fn hash(&self, key: &[u8]) -> u64 {
        // SipHash-2-4 is deprecated in core only in favour of std's RandomState, which a
        // no_std crate does not have; it is the keyed hash we need.
        #[allow(deprecated)]
        let mut h = core::hash::SipHasher::new_with_keys(self.seed.0, self.seed.1);
        h.write(key);
        h.finish()
    }

    /// Keys held.
    pub fn len(&self) -> usize {
        self.table.len + self.old.as_ref().map_or(0, |(t, _)| t.len)
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the map is resizing (tests).
    #[cfg(test)]
    fn resizing(&self) -> bool {
        self.old.is_some()
    }

    /// Refuses tables of more than `slots` from now on, as a heap without room for them
    /// would (tests of the store's `-OOM` path).
    #[cfg(test)]
    pub(crate) fn cap_slots(&mut self, slots: usize) {
        self.max_slots = slots;
    }

    /// Keys a table of `slots` takes before it grows, and at most (when growing fails).
    fn grow_at(slots: usize) -> usize {
        slots / 4 * 3
    }
    fn full_at(slots: usize) -> usize {
        slots / 8 * 7
    }

    /// Moves up to [`STEP`] slots of the old table into the new one, if the map is
    /// resizing (inline: on every lookup, and almost always nothing to do).
    #[inline]
    fn step(&mut self) {
        if self.old.is_some() {
            self.step_move();
        }
    }

    fn step_move(&mut self) {
        let Some((old, next)) = &mut self.old else {
            return;
        };
        let end = (*next + STEP).min(old.slots.len());
        for i in *next..end {
            // Empty slots stay empty: a probe of the old table stops there as it did.
            if old.slots[i].node.is_some() {
                let h = old.slots[i].hash;
                if let Some(node) = old.take_leaving_gone(i) {
                    self.table.place(h, node);
                }
            }
        }
        *next = end;
        if end == old.slots.len() {
            self.old = None;
        }
    }

    /// Moves the rest of the old table (before another resize).
    fn finish(&mut self) {
        while self.old.is_some() {
            self.step();
        }
    }

    /// Starts moving every key to a table of `slots`; false (nothing changed) when the heap
    /// cannot give it.
    fn resize(&mut self, slots: usize) -> bool {
        self.finish();
        let Some(new) = Table::with_slots(slots, self.max_slots) else {
            return false;
        };
        let old = core::mem::replace(&mut self.table, new);
        if old.len > 0 {
            self.old = Some((old, 0));
        }
        true
    }

    /// Whether `n` more keys fit, growing the table if they would not (false: the heap has
    /// no room for a larger table, and the write that wanted them should be refused).
    pub fn room(&mut self, n: usize) -> bool {
        let want = self.len().saturating_add(n);
        if want <= Self::full_at(self.table.slots.len()) {
            return true;
        }
        let mut slots = self.table.slots.len().max(MIN_SLOTS);
        while Self::grow_at(slots) < want {
            let Some(more) = slots.checked_mul(2) else {
                return false;
            };
            slots = more;
        }
        self.resize(slots)
    }

    /// The value of `key`, whose [`hash`](Self::hash) is `h` (callers hash a key once for
    /// the several lookups of one command).
    pub fn get(&self, h: u64, key: &[u8]) -> Option<&V> {
        if let Some(i) = self.table.find(h, key) {
            return self.table.slots[i].node.as_deref().map(|n| &n.value);
        }
        let (old, _) = self.old.as_ref()?;
        let i = old.find(h, key)?;
        old.slots[i].node.as_deref().map(|n| &n.value)
    }

    /// The value of `key` (hash `h`), to change.
    pub fn get_mut(&mut self, h: u64, key: &[u8]) -> Option<&mut V> {
        self.step();
        if let Some(i) = self.table.find(h, key) {
            return self.table.slots[i]
                .node
                .as_deref_mut()
                .map(|n| &mut n.value);
        }
        let (old, _) = self.old.as_mut()?;
        let i = old.find(h, key)?;
        old.slots[i].node.as_deref_mut().map(|n| &mut n.value)
    }

    /// Removes `key` (hash `h`), returning its value.
    pub fn remove(&mut self, h: u64, key: &[u8]) -> Option<V> {
        self.step();
        let node = match self.table.find(h, key) {
            Some(i) => self.table.take(i)?,
            None => {
                let (old, _) = self.old.as_mut()?;
                let i = old.find(h, key)?;
                old.take_leaving_gone(i)?
            }
        };
        // A table an eighth full halves (a quarter full after), not below the smallest.
        let slots = self.table.slots.len();
        if self.old.is_none() && slots > MIN_SLOTS && self.table.len < slots / 8 {
            // Failing to get the smaller table is no loss: this one stays.
            self.resize(slots / 2);
        }
        Some(node.value)
    }

    /// Sets `key` (hash `h`) to `v`, returning the value it replaced; `Err(v)` when the key
    /// is new and does not fit (see [`room`](Self::room)).
    pub fn insert(&mut self, h: u64, key: &[u8], v: V) -> Result<Option<V>, V> {
        if let Some(old) = self.get_mut(h, key) {
            return Ok(Some(core::mem::replace(old, v)));
        }
        self.insert_new(h, key, v).map(|()| None)
    }

    /// Adds `key` (hash `h`), which the caller has just found absent, with value `v`. A
    /// table 3/4 full grows first; if the heap has no room for a larger one the key goes
    /// in all the same up to 7/8 full, past which it is handed back (`Err`): the store asks
    /// [`room`](Self::room) before a write, so that is refused earlier with `-OOM`.
    pub fn insert_new(&mut self, h: u64, key: &[u8], v: V) -> Result<(), V> {
        self.step();
        let slots = self.table.slots.len();
        let len = self.len();
        if len >= Self::grow_at(slots) {
            let grew = self.resize((slots * 2).max(MIN_SLOTS));
            if !grew && len >= Self::full_at(slots) {
                return Err(v);
            }
        }
        let node = Box::new(Node {
            key: key.into(),
            value: v,
        });
        self.table.place(h, node);
        Ok(())
    }

    /// Every key once, from the first whose home slot is after `cursor`'s (a hash), around
    /// the table, then those not moved yet while it resizes (for eviction's rotating
    /// sample).
    pub fn after(&self, cursor: u64) -> impl Iterator<Item = (&[u8], &V)> {
        let n = self.table.slots.len();
        let start = if n == 0 {
            0
        } else {
            (self.table.home(cursor) + 1) & self.table.mask()
        };
        let (late, early) = self.table.slots.split_at(start);
        let old = self
            .old
            .as_ref()
            .map_or(&[][..], |(t, _)| t.slots.as_slice());
        early
            .iter()
            .chain(late)
            .chain(old)
            .filter_map(|s| s.node.as_deref())
            .map(|n| (&*n.key, &n.value))
    }

    /// Every key, in no order (tests).
    #[cfg(test)]
    fn iter(&self) -> impl Iterator<Item = (&[u8], &V)> {
        self.table
            .nodes()
            .chain(self.old.iter().flat_map(|(t, _)| t.nodes()))
            .map(|n| (&*n.key, &n.value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeMap;

    /// Checks what every lookup relies on: each node is found from its home without
    /// crossing an empty slot, and the counts are right.
    fn check<V>(m: &KeyMap<V>) {
        for t in core::iter::once(&m.table).chain(m.old.iter().map(|(t, _)| t)) {
            let mut n = 0;
            for (i, s) in t.slots.iter().enumerate() {
                let Some(node) = &s.node else { continue };
                n += 1;
                assert_eq!(t.find(s.hash, &node.key), Some(i));
            }
            assert_eq!(n, t.len);
            if !t.slots.is_empty() {
                assert!(t.len <= KeyMap::<V>::full_at(t.slots.len()));
            }
        }
    }

    /// Slots a lookup of a missing key of hash `h` reads in `t`.
    fn miss_probe<V>(t: &Table<V>, h: u64) -> usize {
        let mut i = t.home(h);
        let mut n = 1;
        while t.slots[i].node.is_some() || t.slots[i].hash == GONE {
            i = (i + 1) & t.mask();
            n += 1;
        }
        n
    }

    fn next(x: &mut u64) -> u64 {
        *x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        *x >> 20
    }

    #[test]
    fn holds_what_a_btreemap_holds_through_growing_and_shrinking() {
        let mut m = KeyMap::new((1, 2));
        let mut r = BTreeMap::new();
        let mut x = 7u64;
        let (mut grew, mut shrank, mut max) = (0, 0, 0);
        for i in 0..60_000u32 {
            // Phases: mostly inserts, then mostly removals, then mixed.
            let p = match i / 20_000 {
                0 => [6, 8],
                1 => [0, 9],
                _ => [3, 6],
            };
            let key = alloc::format!("k{}", next(&mut x) % 5000).into_bytes();
            let h = m.hash(&key);
            let before = m.table.slots.len();
            match next(&mut x) % 10 {
                c if c < p[0] => assert_eq!(m.insert(h, &key, i).ok(), Some(r.insert(key, i))),
                c if c < p[1] => assert_eq!(m.remove(h, &key), r.remove(&key)),
                _ => assert_eq!(m.get(h, &key), r.get(&key)),
            }
            let after = m.table.slots.len();
            grew += usize::from(after > before);
            shrank += usize::from(after < before);
            max = max.max(after);
            assert_eq!(m.len(), r.len());
            if i % 997 == 0 {
                check(&m);
            }
        }
        check(&m);
        assert!(
            grew >= 8 && shrank >= 2 && max >= 4096,
            "{grew} {shrank} {max}"
        );
        let mut all: Vec<_> = m.iter().map(|(k, v)| (k.to_vec(), *v)).collect();
        all.sort();
        assert_eq!(all, r.into_iter().collect::<Vec<_>>());
    }

    #[test]
    fn a_resize_moves_a_few_slots_per_call_and_loses_no_key() {
        let mut m = KeyMap::new((3, 4));
        let keys: Vec<Vec<u8>> = (0..96u32)
            .map(|i| alloc::format!("{i}").into_bytes())
            .collect();
        for (i, k) in keys.iter().enumerate() {
            m.insert_new(m.hash(k), k, i).unwrap();
        }
        // 96 keys fill a 128-slot table to 3/4: the next key starts the move to 256.
        assert_eq!((m.table.slots.len(), m.resizing()), (128, false));
        m.insert_new(m.hash(b"new"), b"new", 96).unwrap();
        assert_eq!((m.table.slots.len(), m.resizing()), (256, true));
        // While both tables are in use, every key is found (in one or the other), and
        // each call moves STEP old slots: 128 / 16 = 8 calls. A missing key costs no more
        // slots of the old table than before the move began (moved slots do not join runs).
        let mut x = 3u64;
        let hashes: Vec<u64> = (0..500).map(|_| next(&mut x) << 20).collect();
        let worst = |m: &KeyMap<usize>| {
            let old = &m.old.as_ref().unwrap().0;
            hashes.iter().map(|&h| miss_probe(old, h)).max()
        };
        let before = worst(&m);
        let mut calls = 0;
        while m.resizing() {
            assert!(worst(&m) <= before);
            for (i, k) in keys.iter().enumerate() {
                assert_eq!(m.get(m.hash(k), k), Some(&i));
            }
            let k = &keys[calls];
            assert_eq!(m.get_mut(m.hash(k), k), Some(&mut calls));
            calls += 1;
            check(&m);
        }
        assert_eq!(calls, 128 / STEP);
        assert_eq!(m.len(), 97);
        assert_eq!(m.after(0).count(), 97);
    }

    #[test]
    fn a_key_removed_while_resizing_stays_removed() {
        let mut m = KeyMap::new((5, 6));
        // 25 keys: the 25th starts the move from 32 slots to 64.
        for i in 0..25u32 {
            let k = alloc::format!("{i}").into_bytes();
            m.insert_new(m.hash(&k), &k, i).unwrap();
        }
        assert!(m.resizing());
        // A key in the old table's second half, which the remove's own step (its first 16
        // slots) does not move.
        let old = &m.old.as_ref().unwrap().0;
        let last = old.slots[STEP..].iter().rev().find_map(|s| s.node.as_ref());
        let last = last.unwrap().key.to_vec();
        assert!(m.remove(m.hash(&last), &last).is_some());
        assert!(m.resizing());
        check(&m);
        assert_eq!(m.get(m.hash(&last), &last), None);
        assert_eq!(m.len(), 24);
        m.finish();
        check(&m);
        assert_eq!(m.get(m.hash(&last), &last), None);
        assert_eq!(m.iter().count(), 24);
    }

    #[test]
    fn equal_hashes_and_runs_around_the_end_of_the_table() {
        let mut m: KeyMap<u32> = KeyMap::new((5, 6));
        // Four keys given the hash of the last slot (a collision, and a run that wraps to
        // the start), and one whose home is slot 0 (pushed along by the wrapped run).
        let end = u64::MAX;
        for (i, k) in [b"a", b"b", b"c", b"d"].iter().enumerate() {
            m.insert_new(end, *k, i as u32).unwrap();
        }
        m.insert_new(5, b"z", 9).unwrap();
        check(&m);
        assert_eq!(m.table.slots.len(), MIN_SLOTS);
        assert_eq!(m.remove(end, b"b"), Some(1));
        check(&m);
        assert_eq!(
            (
                m.get(end, b"a"),
                m.get(end, b"c"),
                m.get(end, b"d"),
                m.get(5, b"z")
            ),
            (Some(&0), Some(&2), Some(&3), Some(&9))
        );
        assert_eq!(m.remove(end, b"a"), Some(0));
        assert_eq!(m.remove(end, b"a"), None);
        assert_eq!(m.insert(end, b"c", 20), Ok(Some(2)));
        check(&m);
        assert_eq!((m.get(end, b"c"), m.get(5, b"z")), (Some(&20), Some(&9)));
        assert_eq!(m.len(), 3);
    }

    #[test]
    fn a_heap_without_room_for_a_larger_table_fills_to_seven_eighths_then_refuses() {
        let mut m = KeyMap::new((7, 8));
        m.max_slots = 64;
        let mut n = 0u32;
        while m.room(1) {
            let k = alloc::format!("{n}").into_bytes();
            m.insert_new(m.hash(&k), &k, n).unwrap();
            n += 1;
        }
        assert_eq!((n, m.table.slots.len()), (56, 64));
        // Past 7/8 an insert the store did not ask room for is handed back, not lost
        // silently, and the map is unchanged and working.
        assert_eq!(m.insert_new(m.hash(b"x"), b"x", 99), Err(99));
        assert_eq!(m.insert(m.hash(b"x"), b"x", 99), Err(99));
        assert_eq!(m.insert(m.hash(b"7"), b"7", 70), Ok(Some(7)));
        check(&m);
        assert_eq!(m.len(), 56);
        // Room for many at once asks for a table large enough for them all.
        m.max_slots = usize::MAX;
        assert!(m.room(1000));
        assert!(m.table.slots.len() >= 2048);
        assert_eq!(m.len(), 56);
    }

    #[test]
    fn after_starts_past_the_cursor_and_gives_each_key_once() {
        let mut m = KeyMap::new((9, 10));
        for i in 0..40u32 {
            let k = alloc::format!("{i}").into_bytes();
            m.insert_new(m.hash(&k), &k, i).unwrap();
        }
        let mut hashes: Vec<u64> = m.iter().map(|(k, _)| m.hash(k)).collect();
        hashes.sort();
        // From the middle of the hash order, the first key given is the next one's in it
        // (a home slot later than the cursor's), and every key comes once.
        let mid = hashes[20];
        let (k, _) = m.after(mid).next().unwrap();
        assert!(m.table.find(m.hash(k), k).unwrap() > m.table.home(mid));
        let mut seen: Vec<u32> = m.after(mid).map(|(_, v)| *v).collect();
        seen.sort();
        assert_eq!(seen, (0..40).collect::<Vec<_>>());
        assert_eq!(KeyMap::<u32>::new((0, 0)).after(5).count(), 0);
    }
}
