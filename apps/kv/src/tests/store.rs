use alloc::format;

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
