//! A map from byte-string keys ordered by a keyed hash of the key, for the store.
//!
//! Why not `BTreeMap<Vec<u8>, V>`: each step of a lookup there compares the probe with a
//! key on the heap, and keys that share a long prefix (redis-benchmark's `key:000000012345`)
//! are compared past that prefix every time (the guest's `memcmp` takes 16 bytes a step,
//! then a byte tail, per call): with 100 000 keys a lookup read some 40 keys and, on the
//! host, took about 45 % of a command's instructions
//! (`apps/kv/examples/kv_cost.rs`). Here the tree is ordered by a 64-bit hash held in the
//! tree's nodes, so a lookup compares integers and reads one key's bytes, at the end.
//!
//! The hash is SipHash-2-4 with a per-core random key, so a client cannot choose keys that
//! collide (colliding hashes share a bucket, scanned linearly). The order is the hash's,
//! which suits eviction's rotating sample: it is spread over the keyspace.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::collections::btree_map::Entry;
use alloc::vec::Vec;
use core::hash::Hasher;
use core::ops::Bound;

/// Keys whose hashes are equal (almost always one). Boxed, so that the tree's nodes hold a
/// pointer per key and stay small enough for the kernel heap's size classes (at most 512
/// bytes: a node of 11 entries inline is over 1 KiB and each one costs a walk of the heap's
/// free list).
#[derive(Debug, Clone)]
// The box around the Vec is the point: one pointer in the node instead of three words.
#[allow(clippy::box_collection)]
enum Bucket<V> {
    One(Box<(Vec<u8>, V)>),
    Many(Box<Vec<(Vec<u8>, V)>>),
}

impl<V> Bucket<V> {
    fn iter(&self) -> impl Iterator<Item = (&[u8], &V)> {
        let (one, many) = match self {
            Bucket::One(kv) => (Some((kv.0.as_slice(), &kv.1)), &[][..]),
            Bucket::Many(all) => (None, all.as_slice()),
        };
        one.into_iter()
            .chain(many.iter().map(|(k, v)| (k.as_slice(), v)))
    }
}

/// The map.
#[derive(Debug, Clone)]
pub struct KeyMap<V> {
    tree: BTreeMap<u64, Bucket<V>>,
    len: usize,
    seed: (u64, u64),
}

impl<V> KeyMap<V> {
    /// An empty map whose hash is keyed by `seed` (random per core in the guest).
    pub fn new(seed: (u64, u64)) -> Self {
        Self {
            tree: BTreeMap::new(),
            len: 0,
            seed,
        }
    }

    /// The seed it was made with.
    pub fn seed(&self) -> (u64, u64) {
        self.seed
    }

    /// The key's place in the order.
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
        self.len
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The value of `key`, whose [`hash`](Self::hash) is `h` (callers hash a key once for
    /// the several lookups of one command).
    pub fn get(&self, h: u64, key: &[u8]) -> Option<&V> {
        match self.tree.get(&h)? {
            Bucket::One(kv) => (kv.0.as_slice() == key).then_some(&kv.1),
            Bucket::Many(all) => all.iter().find(|(k, _)| k == key).map(|(_, v)| v),
        }
    }

    /// The value of `key` (hash `h`), to change.
    pub fn get_mut(&mut self, h: u64, key: &[u8]) -> Option<&mut V> {
        match self.tree.get_mut(&h)? {
            Bucket::One(kv) => (kv.0.as_slice() == key).then_some(&mut kv.1),
            Bucket::Many(all) => all.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v),
        }
    }

    /// Removes `key` (hash `h`), returning its value.
    pub fn remove(&mut self, h: u64, key: &[u8]) -> Option<V> {
        let v = match self.tree.get_mut(&h)? {
            Bucket::One(kv) if kv.0.as_slice() != key => return None,
            Bucket::One(_) => match self.tree.remove(&h) {
                Some(Bucket::One(kv)) => kv.1,
                _ => return None,
            },
            Bucket::Many(all) => {
                let i = all.iter().position(|(k, _)| k == key)?;
                let (_, v) = all.swap_remove(i);
                if all.is_empty() {
                    self.tree.remove(&h);
                }
                v
            }
        };
        self.len -= 1;
        Some(v)
    }

    /// Sets `key` (hash `h`) to `v`, returning the value it replaced.
    pub fn insert(&mut self, h: u64, key: &[u8], v: V) -> Option<V> {
        if let Some(old) = self.get_mut(h, key) {
            return Some(core::mem::replace(old, v));
        }
        self.insert_new(h, key, v);
        None
    }

    /// Adds `key` (hash `h`), which the caller has just found absent, with value `v`: one
    /// walk of the tree.
    pub fn insert_new(&mut self, h: u64, key: &[u8], v: V) {
        self.len += 1;
        match self.tree.entry(h) {
            Entry::Vacant(slot) => {
                slot.insert(Bucket::One(Box::new((key.to_vec(), v))));
            }
            Entry::Occupied(mut slot) => match slot.get_mut() {
                Bucket::Many(all) => all.push((key.to_vec(), v)),
                one => {
                    // Another key with this hash (rare): the bucket becomes a list.
                    let all = Bucket::Many(Box::new(alloc::vec![(key.to_vec(), v)]));
                    if let Bucket::One(kv) = core::mem::replace(one, all)
                        && let Bucket::Many(all) = one
                    {
                        all.insert(0, *kv);
                    }
                }
            },
        }
    }

    /// Every key, from the first whose hash is after `cursor`, wrapping around once (for
    /// eviction's rotating sample); some keys may come twice after the wrap, which a sample
    /// of a few does not mind.
    pub fn after(&self, cursor: u64) -> impl Iterator<Item = (&[u8], &V)> {
        self.tree
            .range((Bound::Excluded(cursor), Bound::Unbounded))
            .chain(self.tree.iter())
            .flat_map(|(_, b)| b.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_what_a_btreemap_holds() {
        let mut m = KeyMap::new((1, 2));
        let mut r = BTreeMap::new();
        let mut x = 7u64;
        for i in 0..4000u32 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            let key = alloc::format!("k{}", (x >> 40) % 700).into_bytes();
            let h = m.hash(&key);
            match (x >> 20) % 3 {
                0 => assert_eq!(m.insert(h, &key, i), r.insert(key.clone(), i)),
                1 => assert_eq!(m.remove(h, &key), r.remove(&key)),
                _ => assert_eq!(m.get(h, &key), r.get(&key)),
            }
            assert_eq!(m.len(), r.len());
        }
        let mut all: Vec<_> = m
            .after(0)
            .take(m.len())
            .map(|(k, v)| (k.to_vec(), *v))
            .collect();
        all.sort();
        assert_eq!(all, r.into_iter().collect::<Vec<_>>());
    }

    #[test]
    fn colliding_hashes_share_a_bucket() {
        let mut m: KeyMap<u32> = KeyMap::new((3, 4));
        // Force every key into one bucket, as colliding hashes would be.
        let h = m.hash(b"a");
        m.insert(h, b"a", 1);
        let b = m.tree.remove(&h).map(|b| match b {
            Bucket::One(kv) => Bucket::Many(Box::new(alloc::vec![*kv, (b"b".to_vec(), 2)])),
            many => many,
        });
        if let Some(b) = b {
            m.tree.insert(h, b);
        }
        m.len = 2;
        assert_eq!(m.get(h, b"a"), Some(&1));
        assert_eq!(m.get(h, b"b"), Some(&2));
        assert_eq!(m.remove(h, b"a"), Some(1));
        assert_eq!(m.len(), 1);
        assert_eq!(m.remove(h, b"a"), None);
        assert_eq!(m.get(h, b"b"), Some(&2));
    }

    #[test]
    fn insert_new_makes_a_bucket_of_colliding_keys() {
        let mut m: KeyMap<u32> = KeyMap::new((5, 6));
        // Three keys given one hash, as a collision would.
        m.insert_new(7, b"a", 1);
        m.insert_new(7, b"b", 2);
        assert_eq!(m.insert(7, b"c", 3), None);
        assert_eq!(m.insert(7, b"b", 20), Some(2));
        assert_eq!(m.len(), 3);
        assert_eq!(
            (m.get(7, b"a"), m.get(7, b"b"), m.get(7, b"c")),
            (Some(&1), Some(&20), Some(&3))
        );
        assert_eq!(m.remove(7, b"a"), Some(1));
        assert_eq!(m.get(7, b"b"), Some(&20));
        assert_eq!(m.len(), 2);
    }
}
