use alloc::format;
use alloc::string::String;

use super::{node, run};
use crate::store::Policy;

#[test]
fn noeviction_refuses_writes_over_the_limit_with_oom() {
    let mut n = node(4096, Policy::NoEviction);
    let mut refused = 0;
    for i in 0..100 {
        let r = run(
            &mut n,
            &format!("SET key{i} 0123456789012345678901234567890123456789"),
        );
        if r.starts_with("-OOM") {
            assert_eq!(
                r,
                "-OOM command not allowed when used memory > 'maxmemory'.\r\n"
            );
            refused += 1;
        }
    }
    assert!(refused > 50, "{refused}");
    assert!(n.store.used() <= n.store.limit());
    // Reads and deletes still work at the limit; a delete makes room.
    assert_eq!(run(&mut n, "GET key0").len(), 47);
    assert_eq!(run(&mut n, "DEL key0 key1"), ":2\r\n");
    assert_eq!(run(&mut n, "SET x y"), "+OK\r\n");
    assert_eq!(n.store.stats.oom, refused);
}

#[test]
fn allkeys_lru_evicts_and_keeps_recently_used_keys() {
    let mut n = node(16 * 1024, Policy::AllKeysLru);
    run(&mut n, "SET hot value");
    for i in 0..2000 {
        assert_eq!(run(&mut n, &format!("SET key{i:05} {:064}", i)), "+OK\r\n");
        // Touch the hot key now and then: with 5 samples, the least recently used of them
        // goes, so a key touched often survives.
        if i % 16 == 0 {
            assert_eq!(run(&mut n, "GET hot"), "$5\r\nvalue\r\n", "at {i}");
        }
    }
    assert!(n.store.used() <= n.store.limit());
    assert!(n.store.stats.evicted > 1500, "{:?}", n.store.stats);
    assert_eq!(run(&mut n, "GET key01999").len(), 64 + 7);
}

#[test]
fn accounting_returns_to_zero() {
    let mut n = node(1 << 20, Policy::NoEviction);
    for c in [
        "SET a b EX 10",
        "LPUSH l 1 2 3",
        "SADD s x y",
        "HSET h f v",
        "ZADD z 1 m",
        "INCR i",
    ] {
        run(&mut n, c);
    }
    assert!(n.store.used() > 0);
    run(&mut n, "LPOP l 3");
    run(&mut n, "DEL a s h z i");
    assert_eq!(n.store.used(), 0);
    assert_eq!(n.store.volatile(), 0);
    assert!(n.store.is_empty());
}

#[test]
fn a_low_heap_refuses_writes_under_noeviction_below_the_limit() {
    let mut n = node(1 << 20, Policy::NoEviction);
    for i in 0..100 {
        assert_eq!(run(&mut n, &format!("SET key{i} {i:032}")), "+OK\r\n");
    }
    let used = n.store.used();
    assert!(used < n.store.limit() / 4);
    n.store.set_heap_low(true);
    // Far below maxmemory, but the heap says no: writes that add memory are refused.
    assert!(run(&mut n, "SET new value").starts_with("-OOM"));
    assert!(run(&mut n, "RPUSH key0list x").starts_with("-OOM"));
    assert_eq!(n.store.used(), used);
    // Reads and deletes work; deleting makes room under the cap taken when it went low.
    assert_eq!(run(&mut n, "GET key7"), format!("$32\r\n{:032}\r\n", 7));
    let del = (0..10).map(|i| format!(" key{i}")).collect::<String>();
    assert_eq!(run(&mut n, &format!("DEL{del}")), ":10\r\n");
    assert_eq!(run(&mut n, "SET new value"), "+OK\r\n");
    // Staying low keeps the first cap (it does not follow the keys down).
    n.store.set_heap_low(true);
    assert_eq!(run(&mut n, "SET new2 value"), "+OK\r\n");
    // A heap that recovers gives the limit back.
    n.store.set_heap_low(false);
    for i in 100..200 {
        assert_eq!(run(&mut n, &format!("SET key{i} {i:032}")), "+OK\r\n");
    }
    assert_eq!(n.store.stats.oom, 2);
}

#[test]
fn a_key_map_without_heap_to_grow_refuses_new_keys_with_oom() {
    // Far below maxmemory, but the keys' table (64 slots) cannot grow: it takes keys to
    // 7/8 full, then new keys get -OOM while writes to present keys and deletes work.
    let mut n = node(1 << 20, Policy::NoEviction);
    n.store.cap_map_slots(64);
    let mut ok = 0;
    for i in 0..100 {
        match run(&mut n, &format!("SET key{i} v")).as_str() {
            "+OK\r\n" => ok += 1,
            r => assert!(r.starts_with("-OOM"), "{r}"),
        }
    }
    assert_eq!((ok, n.store.len(), n.store.stats.oom), (56, 56, 44));
    assert!(run(&mut n, "MSET a 1 b 2").starts_with("-OOM"));
    assert!(run(&mut n, "LPUSH list x").starts_with("-OOM"));
    assert_eq!(run(&mut n, "SET key3 new"), "+OK\r\n");
    assert_eq!(run(&mut n, "APPEND key3 er"), ":5\r\n");
    assert_eq!(run(&mut n, "DEL key0"), ":1\r\n");
    assert_eq!(run(&mut n, "SET fresh v"), "+OK\r\n");
    assert_eq!(run(&mut n, "GET key3"), "$5\r\nnewer\r\n");
    // MSET of present keys needs no slot; one absent key among them does.
    assert_eq!(run(&mut n, "MSET key4 a key5 b"), "+OK\r\n");
    assert!(run(&mut n, "MSET key4 a absent b").starts_with("-OOM"));
    assert_eq!(run(&mut n, "GET key4"), "$1\r\na\r\n");
}

#[test]
fn a_key_map_without_heap_to_grow_evicts_under_allkeys_lru() {
    let mut n = node(1 << 20, Policy::AllKeysLru);
    n.store.cap_map_slots(64);
    for i in 0..200 {
        assert_eq!(run(&mut n, &format!("SET key{i} v")), "+OK\r\n");
        assert!(n.store.len() <= 56);
    }
    assert_eq!(run(&mut n, "GET key199"), "$1\r\nv\r\n");
    assert_eq!((n.store.stats.evicted, n.store.stats.oom), (144, 0));
}

#[test]
fn a_low_heap_evicts_under_allkeys_lru_and_stops() {
    let mut n = node(1 << 20, Policy::AllKeysLru);
    for i in 0..400 {
        assert_eq!(run(&mut n, &format!("SET key{i:03} {i:032}")), "+OK\r\n");
    }
    let used = n.store.used();
    n.store.set_heap_low(true);
    // Each write evicts down to a sixteenth under what was counted; it never empties the
    // store (the cap does not follow the keys down).
    for i in 0..50 {
        assert_eq!(run(&mut n, &format!("SET more{i:03} {i:032}")), "+OK\r\n");
    }
    assert!(
        n.store.used() <= used - used / 16,
        "{} {used}",
        n.store.used()
    );
    assert!(n.store.len() > 300, "{}", n.store.len());
    assert!(n.store.stats.evicted >= 50, "{:?}", n.store.stats);
    assert_eq!(n.store.stats.oom, 0);
}
