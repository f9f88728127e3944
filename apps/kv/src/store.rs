//! One core's share of the keyspace: values, expiry, memory accounting and eviction.
//!
//! Owned by its core alone (no lock): other cores reach it only by sending the command to
//! this core. Memory is an estimate (key and value bytes plus a fixed overhead per entry
//! and per element) kept exact under every change, so the limit is checked before a write,
//! not discovered after the heap ran out.

use alloc::collections::BTreeSet;
use alloc::vec::Vec;

use crate::keymap::KeyMap;

pub use crate::counted::{Hash, List, Set, ZSet};

/// Bytes counted per key beyond its name and value (map slot and node, the boxed entry, the
/// name's and the value's heap blocks). Measured in the guest (INFO's `heap_free` before and
/// after 100 000 keys of redis-benchmark's `SET -r 100000`: 16-byte names, 3-byte values):
/// 171 heap bytes per key, so 152 beyond the 19 counted as name and value. It was 64, and
/// the heap held twice what `used_memory` said. With the hash table (`keymap`) for the
/// B-tree: 153 to 165 heap bytes per key; 152 kept, on the safe side (the table's share
/// per key moves between 21 and 43 bytes as it fills and doubles).
pub const ENTRY_OVERHEAD: usize = 152;
/// Bytes counted per list, set, hash or sorted-set element beyond its bytes. Measured the
/// same way (300 000 `LPUSH` of 3 bytes): 45 heap bytes per element.
pub const ELEMENT_OVERHEAD: usize = 42;
/// Keys sampled per eviction, the least recently used of them going (as Redis's
/// `maxmemory-samples`).
const SAMPLES: usize = 5;

/// A sorted-set score, totally ordered (NaN is refused at parse time).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score(pub f64);

impl Eq for Score {}
impl PartialOrd for Score {
    fn partial_cmp(&self, o: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Score {
    fn cmp(&self, o: &Self) -> core::cmp::Ordering {
        self.0.total_cmp(&o.0)
    }
}

/// A value.
#[derive(Debug, Clone)]
pub enum Value {
    /// A string.
    Str(Vec<u8>),
    /// A list.
    List(List),
    /// A set.
    Set(Set),
    /// A hash.
    Hash(Hash),
    /// A sorted set.
    ZSet(ZSet),
}

impl Value {
    /// Bytes this value counts for.
    pub fn cost(&self) -> usize {
        match self {
            Value::Str(s) => s.len(),
            Value::List(l) => l.bytes(),
            Value::Set(s) => s.bytes(),
            Value::Hash(h) => h.bytes(),
            Value::ZSet(z) => z.bytes(),
        }
    }

    /// Whether a collection has no elements left (the key is then deleted, as in Redis).
    pub fn is_empty_collection(&self) -> bool {
        match self {
            Value::Str(_) => false,
            Value::List(l) => l.is_empty(),
            Value::Set(s) => s.is_empty(),
            Value::Hash(h) => h.is_empty(),
            Value::ZSet(z) => z.is_empty(),
        }
    }
}

/// A key's entry.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The value.
    pub value: Value,
    /// Expiry, ms on the store's clock.
    pub expires_ms: Option<u64>,
    /// Last access, for LRU eviction.
    pub touched: u64,
}

impl Entry {
    /// A placeholder while an entry is out of the map being changed (allocates nothing).
    const EMPTY: Entry = Entry {
        value: Value::Str(Vec::new()),
        expires_ms: None,
        touched: 0,
    };
}

/// What happens at the memory limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Writes that need memory are refused with `-OOM`.
    NoEviction,
    /// The least recently used of a few sampled keys is evicted until the write fits.
    AllKeysLru,
}

/// Counters.
#[derive(Debug, Default, Clone, Copy)]
pub struct StoreStats {
    /// Keys evicted for memory.
    pub evicted: u64,
    /// Keys expired (lazily or by the active cycle).
    pub expired: u64,
    /// Writes refused with `-OOM`.
    pub oom: u64,
    /// Key lookups that found the key.
    pub hits: u64,
    /// Key lookups that did not.
    pub misses: u64,
}

/// One core's keys.
#[derive(Debug)]
pub struct Store {
    map: KeyMap<Entry>,
    expiries: BTreeSet<(u64, Vec<u8>)>,
    used: usize,
    limit: usize,
    policy: Policy,
    clock: u64,
    /// Eviction's sample starts after this hash.
    cursor: u64,
    /// While the core's heap is low ([`set_heap_low`](Self::set_heap_low)): the bytes counted
    /// when it was found low, less a sixteenth, which writes may not exceed.
    low_cap: Option<usize>,
    /// Counters.
    pub stats: StoreStats,
}

/// Keeps `expiries` in step with a key whose expiry was `old` and whose entry is now `new`.
fn sync_expiry(
    expiries: &mut BTreeSet<(u64, Vec<u8>)>,
    key: &[u8],
    old: Option<u64>,
    new: Option<&Entry>,
) {
    let new = new.and_then(|e| e.expires_ms);
    if old == new {
        return;
    }
    if let Some(t) = old {
        expiries.remove(&(t, key.to_vec()));
    }
    if let Some(t) = new {
        expiries.insert((t, key.to_vec()));
    }
}

fn entry_cost(key: &[u8], e: &Entry) -> usize {
    let exp = if e.expires_ms.is_some() {
        key.len() + ELEMENT_OVERHEAD
    } else {
        0
    };
    key.len() + ENTRY_OVERHEAD + e.value.cost() + exp
}

impl Store {
    /// An empty store of at most `limit` bytes (a fixed hash key: tests).
    pub fn new(limit: usize, policy: Policy) -> Self {
        Self::seeded(limit, policy, 0x5eed)
    }

    /// An empty store of at most `limit` bytes whose key hash is keyed by `seed` (random
    /// per core in the guest, so clients cannot pick colliding keys).
    pub fn seeded(limit: usize, policy: Policy, seed: u64) -> Self {
        Self {
            map: KeyMap::new((seed, seed.rotate_left(32) ^ 0x9e37_79b9_7f4a_7c15)),
            expiries: BTreeSet::new(),
            used: 0,
            limit,
            policy,
            clock: 0,
            cursor: 0,
            low_cap: None,
            stats: StoreStats::default(),
        }
    }

    /// Drops every key (FLUSHALL); the limit, policy, hash key and counters stay.
    pub fn clear(&mut self) {
        self.map = KeyMap::new(self.map.seed());
        self.expiries.clear();
        self.used = 0;
        self.cursor = 0;
    }

    /// Bytes counted now.
    pub fn used(&self) -> usize {
        self.used
    }

    /// The limit.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Tells the store whether the core's heap is low (the appliance looks each pass: free
    /// heap under what it keeps for connections not yet open and a reserve). The bytes
    /// counted are an estimate; the heap is the truth, and running out of it stops the
    /// machine. While it is low, writes may not take the keys past what they counted when it
    /// was found low, less a sixteenth: under `noeviction` writes that add memory get `-OOM`,
    /// under `allkeys-lru` keys are evicted down to that. Reads and deletes work as ever.
    pub fn set_heap_low(&mut self, low: bool) {
        match (low, self.low_cap) {
            (true, None) => self.low_cap = Some(self.used - self.used / 16),
            (false, Some(_)) => self.low_cap = None,
            _ => {}
        }
    }

    /// Caps the key map's table at `slots`, as a heap without room for a larger one would
    /// (tests).
    #[cfg(test)]
    pub(crate) fn cap_map_slots(&mut self, slots: usize) {
        self.map.cap_slots(slots);
    }

    /// The policy.
    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// Keys held (some may have expired and not been collected yet).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Keys with an expiry.
    pub fn volatile(&self) -> usize {
        self.expiries.len()
    }

    /// Drops `key` (hash `h`) if it has expired by `now`.
    fn expire_if_due(&mut self, h: u64, key: &[u8], now: u64) {
        // Every key with an expiry is in `expiries`: when none is due (no key has one, in
        // the common case), no key can have expired, and the lookup is saved (one tree walk
        // per command).
        if self.expiries.first().is_none_or(|(t, _)| *t > now) {
            return;
        }
        if let Some(e) = self.map.get(h, key)
            && e.expires_ms.is_some_and(|t| t <= now)
        {
            self.remove_hashed(h, key);
            self.stats.expired += 1;
        }
    }

    /// The live entry for `key`, marked used.
    pub fn get(&mut self, key: &[u8], now: u64) -> Option<&Entry> {
        self.get_mut(key, now).map(|e| &*e)
    }

    /// The live entry for `key`, marked used, for a change that does not alter its cost
    /// (callers that change it go through [`update`](Self::update)).
    fn get_mut(&mut self, key: &[u8], now: u64) -> Option<&mut Entry> {
        let h = self.map.hash(key);
        self.expire_if_due(h, key, now);
        self.clock += 1;
        let clock = self.clock;
        match self.map.get_mut(h, key) {
            Some(e) => {
                self.stats.hits += 1;
                e.touched = clock;
                Some(e)
            }
            None => {
                self.stats.misses += 1;
                None
            }
        }
    }

    /// Whether `key` exists now.
    pub fn contains(&mut self, key: &[u8], now: u64) -> bool {
        let h = self.map.hash(key);
        self.expire_if_due(h, key, now);
        self.map.get(h, key).is_some()
    }

    /// Removes `key`; whether it was there.
    pub fn remove(&mut self, key: &[u8]) -> bool {
        self.remove_hashed(self.map.hash(key), key)
    }

    fn remove_hashed(&mut self, h: u64, key: &[u8]) -> bool {
        match self.map.remove(h, key) {
            Some(e) => {
                self.used -= entry_cost(key, &e);
                if let Some(t) = e.expires_ms {
                    self.expiries.remove(&(t, key.to_vec()));
                }
                true
            }
            None => false,
        }
    }

    /// Makes room for `extra` more bytes: true if they fit (after evicting, under LRU).
    /// `keep` is never evicted (the key being written).
    pub fn reserve(&mut self, extra: usize, keep: &[u8]) -> bool {
        let limit = self.low_cap.map_or(self.limit, |c| c.min(self.limit));
        while self.used + extra > limit {
            if self.policy == Policy::NoEviction || !self.evict_one(keep) {
                self.stats.oom += 1;
                return false;
            }
        }
        true
    }

    /// Evicts the least recently used of [`SAMPLES`] keys after the cursor.
    fn evict_one(&mut self, keep: &[u8]) -> bool {
        let mut victim: Option<(u64, &[u8])> = None;
        let sample = self
            .map
            .after(self.cursor)
            .filter(|(k, _)| *k != keep)
            .take(SAMPLES);
        for (k, e) in sample {
            if victim.is_none_or(|(t, _)| e.touched < t) {
                victim = Some((e.touched, k));
            }
        }
        let Some((_, k)) = victim else {
            return false;
        };
        let k = k.to_vec();
        self.cursor = self.map.hash(&k);
        self.remove(&k);
        self.stats.evicted += 1;
        true
    }

    /// Applies `f` to the live entry of `key` (`None`: absent) and stores what it leaves,
    /// accounting the cost change; an emptied collection deletes the key, as in Redis. The
    /// memory check comes before, in [`admit`](Self::admit), as Redis checks before it runs
    /// a write command.
    pub fn update<R>(
        &mut self,
        key: &[u8],
        now: u64,
        f: impl FnOnce(&mut Option<Entry>) -> R,
    ) -> R {
        let h = self.map.hash(key);
        self.expire_if_due(h, key, now);
        self.clock += 1;
        let clock = self.clock;
        // Fields apart, so that the entry's place in the map stays borrowed while the cost and
        // the expiries change: a present key is walked to once, a new one twice (find, insert).
        let Self {
            map,
            expiries,
            used,
            stats,
            ..
        } = self;
        match map.get_mut(h, key) {
            Some(place) => {
                // Taken out of its place (no key copy) and put back there.
                let mut slot = Some(core::mem::replace(place, Entry::EMPTY));
                let before = slot.as_ref().map_or(0, |e| entry_cost(key, e));
                let old_exp = slot.as_ref().and_then(|e| e.expires_ms);
                *used -= before;
                let r = f(&mut slot);
                if slot.as_ref().is_some_and(|e| e.value.is_empty_collection()) {
                    slot = None;
                }
                sync_expiry(expiries, key, old_exp, slot.as_ref());
                match slot {
                    Some(mut e) => {
                        e.touched = clock;
                        *used += entry_cost(key, &e);
                        *place = e;
                    }
                    None => drop(map.remove(h, key)),
                }
                r
            }
            None => {
                let mut slot = None;
                let r = f(&mut slot);
                if let Some(mut e) = slot
                    && !e.value.is_empty_collection()
                {
                    e.touched = clock;
                    let (cost, exp) = (entry_cost(key, &e), e.expires_ms);
                    // `admit` asked the map for room first; a key that still finds none
                    // (a write that skipped it) is refused and counted, never half-stored.
                    match map.insert_new(h, key, e) {
                        Ok(()) => {
                            *used += cost;
                            if let Some(t) = exp {
                                expiries.insert((t, key.to_vec()));
                            }
                        }
                        Err(_) => stats.oom += 1,
                    }
                }
                r
            }
        }
    }

    /// Before a write that may add about `extra` bytes and the keys of `keys` (the first is
    /// the command's key, never evicted for it): evicts (under LRU) until they fit, in the
    /// byte limit and in the key map (whose table may find no heap to grow into); false
    /// (answer `-OOM`, count it) when they cannot.
    pub fn admit<'k>(
        &mut self,
        extra: usize,
        keys: impl Iterator<Item = &'k [u8]> + Clone,
    ) -> bool {
        let keep = keys.clone().next().unwrap_or_default();
        if !self.reserve(extra, keep) {
            return false;
        }
        // Room for every key named is the common, cheap answer; when the table is full,
        // only the keys not there yet need a slot.
        if self.map.room(keys.clone().count()) {
            return true;
        }
        let new = |map: &KeyMap<Entry>| {
            keys.clone()
                .filter(|k| map.get(map.hash(k), k).is_none())
                .count()
        };
        while !self.map.room(new(&self.map)) {
            if self.policy == Policy::NoEviction || !self.evict_one(keep) {
                self.stats.oom += 1;
                return false;
            }
        }
        true
    }

    /// Deletes up to `max` keys whose expiry is due; returns how many.
    pub fn expire_cycle(&mut self, now: u64, max: usize) -> usize {
        let mut n = 0;
        while n < max {
            let Some((t, k)) = self.expiries.first().cloned() else {
                break;
            };
            if t > now {
                break;
            }
            self.remove(&k);
            self.expiries.remove(&(t, k));
            self.stats.expired += 1;
            n += 1;
        }
        n
    }
}
