use super::{at, node, run};
use crate::store::Policy;
use alloc::vec::Vec;

const BIG: usize = 1 << 20;

#[test]
fn strings_set_get_incr() {
    let mut n = node(BIG, Policy::NoEviction);
    assert_eq!(run(&mut n, "GET k"), "$-1\r\n");
    assert_eq!(run(&mut n, "SET k v"), "+OK\r\n");
    assert_eq!(run(&mut n, "get k"), "$1\r\nv\r\n");
    assert_eq!(run(&mut n, "SET k w NX"), "$-1\r\n");
    assert_eq!(run(&mut n, "SET k w XX"), "+OK\r\n");
    assert_eq!(run(&mut n, "SET j w XX"), "$-1\r\n");
    assert_eq!(run(&mut n, "SET k x GET"), "$1\r\nw\r\n");
    assert_eq!(run(&mut n, "SET k x NX XX"), "-ERR syntax error\r\n");
    assert_eq!(run(&mut n, "SET k x EX"), "-ERR syntax error\r\n");
    assert_eq!(
        run(&mut n, "SET k x EX 0"),
        "-ERR invalid expire time in 'set' command\r\n"
    );
    assert_eq!(
        run(&mut n, "SET k x EX a"),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(run(&mut n, "INCR c"), ":1\r\n");
    assert_eq!(run(&mut n, "INCR c"), ":2\r\n");
    assert_eq!(run(&mut n, "DECRBY c 5"), ":-3\r\n");
    assert_eq!(
        run(&mut n, "INCR k"),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(run(&mut n, "SET c 9223372036854775807"), "+OK\r\n");
    assert_eq!(
        run(&mut n, "INCR c"),
        "-ERR increment or decrement would overflow\r\n"
    );
    assert_eq!(run(&mut n, "MSET a 1 b 2"), "+OK\r\n");
    assert_eq!(
        run(&mut n, "MGET a b nope"),
        "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$-1\r\n"
    );
    assert_eq!(
        run(&mut n, "MSET a 1 b"),
        "-ERR wrong number of arguments for 'mset' command\r\n"
    );
    assert_eq!(run(&mut n, "APPEND a 23"), ":3\r\n");
    assert_eq!(run(&mut n, "STRLEN a"), ":3\r\n");
}

#[test]
fn expiry_ttl_and_keys() {
    let mut n = node(BIG, Policy::NoEviction);
    assert_eq!(at(&mut n, 1000, "SET k v PX 1500"), "+OK\r\n");
    assert_eq!(at(&mut n, 1000, "PTTL k"), ":1500\r\n");
    assert_eq!(at(&mut n, 1000, "TTL k"), ":2\r\n");
    assert_eq!(at(&mut n, 2499, "GET k"), "$1\r\nv\r\n");
    assert_eq!(at(&mut n, 2500, "GET k"), "$-1\r\n");
    assert_eq!(at(&mut n, 2500, "TTL k"), ":-2\r\n");
    assert_eq!(at(&mut n, 0, "SET k v"), "+OK\r\n");
    assert_eq!(at(&mut n, 0, "TTL k"), ":-1\r\n");
    assert_eq!(at(&mut n, 0, "EXPIRE k 10"), ":1\r\n");
    assert_eq!(at(&mut n, 0, "EXPIRE k 20 NX"), ":0\r\n");
    assert_eq!(at(&mut n, 0, "EXPIRE k 20 GT"), ":1\r\n");
    assert_eq!(at(&mut n, 0, "TTL k"), ":20\r\n");
    assert_eq!(at(&mut n, 0, "EXPIRE nope 10"), ":0\r\n");
    assert_eq!(
        at(&mut n, 0, "EXPIRE k x"),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(at(&mut n, 0, "PERSIST k"), ":1\r\n");
    assert_eq!(at(&mut n, 0, "TTL k"), ":-1\r\n");
    assert_eq!(at(&mut n, 0, "SET e v EX 1"), "+OK\r\n");
    assert_eq!(at(&mut n, 0, "DBSIZE"), ":2\r\n");
    assert_eq!(
        at(&mut n, 5000, "DBSIZE"),
        ":1\r\n",
        "expired key collected"
    );
    assert_eq!(at(&mut n, 0, "EXISTS k k nope"), ":2\r\n");
    assert_eq!(at(&mut n, 0, "TYPE k"), "+string\r\n");
    assert_eq!(at(&mut n, 0, "DEL k nope"), ":1\r\n");
    assert_eq!(at(&mut n, 0, "EXISTS k"), ":0\r\n");
    assert_eq!(at(&mut n, 0, "SET k v"), "+OK\r\n");
    assert_eq!(at(&mut n, 0, "EXPIRE k -1"), ":1\r\n");
    assert_eq!(at(&mut n, 0, "EXISTS k"), ":0\r\n", "a past expiry deletes");
}

#[test]
fn set_options_in_one_walk() {
    let mut n = node(BIG, Policy::NoEviction);
    assert_eq!(at(&mut n, 0, "SET k v PX 1000"), "+OK\r\n");
    assert_eq!(at(&mut n, 0, "SET k w KEEPTTL GET"), "$1\r\nv\r\n");
    assert_eq!(
        at(&mut n, 0, "PTTL k"),
        ":1000\r\n",
        "KEEPTTL keeps the expiry"
    );
    assert_eq!(
        at(&mut n, 0, "SET k x NX GET"),
        "$1\r\nw\r\n",
        "NX GET: no write, old value"
    );
    assert_eq!(at(&mut n, 0, "GET k"), "$1\r\nw\r\n");
    assert_eq!(at(&mut n, 0, "SET nope x XX GET"), "$-1\r\n");
    assert_eq!(at(&mut n, 0, "EXISTS nope"), ":0\r\n");
    assert_eq!(at(&mut n, 0, "SET k y"), "+OK\r\n");
    assert_eq!(
        at(&mut n, 0, "PTTL k"),
        ":-1\r\n",
        "a plain SET drops the expiry"
    );
    assert_eq!(at(&mut n, 0, "LPUSH l a"), ":1\r\n");
    assert_eq!(
        at(&mut n, 0, "SET l v GET"),
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_eq!(
        at(&mut n, 0, "TYPE l"),
        "+list\r\n",
        "no write after WRONGTYPE"
    );
    assert_eq!(at(&mut n, 0, "PEXPIRE l 500"), ":1\r\n");
    assert_eq!(at(&mut n, 0, "SET l v KEEPTTL"), "+OK\r\n");
    assert_eq!(
        at(&mut n, 0, "PTTL l"),
        ":500\r\n",
        "KEEPTTL over another type"
    );
    // Keys without an expiry next to ones with: a due expiry is still seen by every command.
    assert_eq!(at(&mut n, 0, "SET p v"), "+OK\r\n");
    assert_eq!(at(&mut n, 499, "INCR c"), ":1\r\n");
    assert_eq!(at(&mut n, 500, "GET l"), "$-1\r\n");
    assert_eq!(
        at(&mut n, 500, "INCR l"),
        ":1\r\n",
        "an expired key is absent"
    );
    assert_eq!(at(&mut n, 500, "GET p"), "$1\r\nv\r\n");
    assert_eq!(at(&mut n, 500, "DBSIZE"), ":4\r\n");
    // Overwrites into the string's own buffer keep the value and the expiry right.
    assert_eq!(at(&mut n, 0, "SET r abcdef PX 700"), "+OK\r\n");
    assert_eq!(at(&mut n, 0, "SET r abc KEEPTTL"), "+OK\r\n");
    assert_eq!(at(&mut n, 0, "GET r"), "$3\r\nabc\r\n");
    assert_eq!(at(&mut n, 0, "PTTL r"), ":700\r\n");
    assert_eq!(at(&mut n, 0, "SET r abcd PX 900"), "+OK\r\n");
    assert_eq!(at(&mut n, 0, "PTTL r"), ":900\r\n");
    assert_eq!(at(&mut n, 0, "SET r xy"), "+OK\r\n");
    assert_eq!(at(&mut n, 0, "PTTL r"), ":-1\r\n");
    assert_eq!(at(&mut n, 0, "STRLEN r"), ":2\r\n");
    assert_eq!(
        at(&mut n, 1000, "GET r"),
        "$2\r\nxy\r\n",
        "no stale expiry left behind"
    );
}

#[test]
fn lists() {
    let mut n = node(BIG, Policy::NoEviction);
    assert_eq!(run(&mut n, "LPUSH l a b"), ":2\r\n");
    assert_eq!(run(&mut n, "RPUSH l c"), ":3\r\n");
    assert_eq!(
        run(&mut n, "LRANGE l 0 -1"),
        "*3\r\n$1\r\nb\r\n$1\r\na\r\n$1\r\nc\r\n"
    );
    assert_eq!(
        run(&mut n, "LRANGE l -2 99"),
        "*2\r\n$1\r\na\r\n$1\r\nc\r\n"
    );
    assert_eq!(run(&mut n, "LRANGE l 5 9"), "*0\r\n");
    assert_eq!(run(&mut n, "LPOP l"), "$1\r\nb\r\n");
    assert_eq!(run(&mut n, "RPOP l"), "$1\r\nc\r\n");
    assert_eq!(run(&mut n, "LPOP l 5"), "*1\r\n$1\r\na\r\n");
    assert_eq!(
        run(&mut n, "EXISTS l"),
        ":0\r\n",
        "an emptied list is deleted"
    );
    assert_eq!(run(&mut n, "LPOP l"), "$-1\r\n");
    assert_eq!(run(&mut n, "LPOP l 2"), "*-1\r\n");
    assert_eq!(run(&mut n, "SET s x"), "+OK\r\n");
    let wrong = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
    assert_eq!(run(&mut n, "LPUSH s a"), wrong);
    assert_eq!(run(&mut n, "LPOP s"), wrong);
    assert_eq!(run(&mut n, "LRANGE s 0 1"), wrong);
    assert_eq!(
        run(&mut n, "GET s"),
        "$1\r\nx\r\n",
        "unchanged by a failed push"
    );
    assert_eq!(run(&mut n, "RPUSH l x"), ":1\r\n");
    assert_eq!(run(&mut n, "GET l"), wrong);
}

#[test]
fn sets_hashes_sorted_sets() {
    let mut n = node(BIG, Policy::NoEviction);
    assert_eq!(run(&mut n, "SADD s a b a"), ":2\r\n");
    assert_eq!(run(&mut n, "SCARD s"), ":2\r\n");
    assert_eq!(run(&mut n, "SISMEMBER s a"), ":1\r\n");
    let one = run(&mut n, "SPOP s");
    assert!(one == "$1\r\na\r\n" || one == "$1\r\nb\r\n", "{one}");
    assert_eq!(run(&mut n, "SPOP s 5").len(), "*1\r\n$1\r\na\r\n".len());
    assert_eq!(run(&mut n, "SPOP s"), "$-1\r\n");
    assert_eq!(run(&mut n, "HSET h f 1 g 2"), ":2\r\n");
    assert_eq!(run(&mut n, "HSET h f 3"), ":0\r\n");
    assert_eq!(run(&mut n, "HGET h f"), "$1\r\n3\r\n");
    assert_eq!(
        run(&mut n, "HSET h f"),
        "-ERR wrong number of arguments for 'hset' command\r\n"
    );
    assert_eq!(run(&mut n, "ZADD z 2 b 1 a 1.5 c"), ":3\r\n");
    assert_eq!(run(&mut n, "ZADD z CH 3 a"), ":1\r\n");
    assert_eq!(
        run(&mut n, "ZADD z x a"),
        "-ERR value is not a valid float\r\n"
    );
    assert_eq!(
        run(&mut n, "ZPOPMIN z 2"),
        "*4\r\n$1\r\nc\r\n$3\r\n1.5\r\n$1\r\nb\r\n$1\r\n2\r\n"
    );
    assert_eq!(run(&mut n, "ZPOPMIN z"), "*2\r\n$1\r\na\r\n$1\r\n3\r\n");
    assert_eq!(run(&mut n, "ZPOPMIN z"), "*0\r\n");
    let wrong = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
    assert_eq!(run(&mut n, "SADD h x"), wrong);
    assert_eq!(run(&mut n, "ZADD h 1 x"), wrong);
    assert_eq!(run(&mut n, "HGET s x"), "$-1\r\n");
}

#[test]
fn handshakes_and_errors_as_redis_answers_them() {
    let mut n = node(BIG, Policy::NoEviction);
    assert_eq!(run(&mut n, "PING"), "+PONG\r\n");
    assert_eq!(run(&mut n, "ping hi"), "$2\r\nhi\r\n");
    assert_eq!(
        run(&mut n, "FOO a b"),
        "-ERR unknown command 'FOO', with args beginning with: 'a' 'b' \r\n"
    );
    assert_eq!(
        run(&mut n, "GET"),
        "-ERR wrong number of arguments for 'get' command\r\n"
    );
    assert_eq!(
        run(&mut n, "HELLO 3"),
        "-NOPROTO unsupported protocol version\r\n"
    );
    assert!(run(&mut n, "HELLO 2").starts_with("*14\r\n$6\r\nserver\r\n$5\r\nredis\r\n"));
    assert_eq!(run(&mut n, "CLIENT SETNAME x"), "+OK\r\n");
    assert_eq!(
        run(&mut n, "CLIENT KILL x"),
        "-ERR unknown subcommand 'KILL'. Try CLIENT HELP.\r\n"
    );
    assert_eq!(run(&mut n, "COMMAND DOCS"), "*0\r\n");
    assert_eq!(run(&mut n, "SELECT 0"), "+OK\r\n");
    assert_eq!(run(&mut n, "SELECT 1"), "-ERR DB index is out of range\r\n");
    assert_eq!(
        run(&mut n, "CONFIG GET save appendonly"),
        "*4\r\n$4\r\nsave\r\n$0\r\n\r\n$10\r\nappendonly\r\n$2\r\nno\r\n"
    );
    assert!(run(&mut n, "INFO").contains("redis_version:7.0.0\r\n"));
}

#[test]
fn a_reply_past_max_reply_is_not_built_whole() {
    use crate::reply::MAX_REPLY;
    let mut n = node(64 << 20, Policy::NoEviction);
    // A 3 MiB list (LRANGE would copy it all) and a 2 MiB string grown by APPEND.
    let item = "x".repeat(1000);
    let push = alloc::format!("RPUSH l{}", alloc::format!(" {item}").repeat(100));
    for _ in 0..30 {
        run(&mut n, &push);
    }
    let chunk = "y".repeat(60_000);
    for _ in 0..35 {
        run(&mut n, &alloc::format!("APPEND s {chunk}"));
    }
    // Both replies stop one byte past the limit (the session sheds such a reply unsent).
    assert_eq!(run(&mut n, "LRANGE l 0 -1").len(), MAX_REPLY + 1);
    assert_eq!(run(&mut n, "GET s").len(), MAX_REPLY + 1);
    // Under the limit, replies are whole.
    assert_eq!(run(&mut n, "LRANGE l 0 9").len(), 5 + 10 * (1000 + 9));
    assert_eq!(run(&mut n, "STRLEN s"), ":2100000\r\n");
}

#[test]
fn a_heap_without_room_for_the_too_long_mark_gets_an_error_instead() {
    use crate::reply::{TOO_LONG, array, bulk, mark_too_long};
    use crate::route::{Combine, combine};
    // An LRANGE's reply under way when the mark cannot be allocated: the reply becomes the
    // error, and the elements after it add nothing.
    let mut out = Vec::new();
    array(&mut out, 3);
    bulk(&mut out, b"first");
    mark_too_long(&mut out, false);
    bulk(&mut out, b"second");
    let want = alloc::format!("-{TOO_LONG}\r\n");
    assert_eq!(out, want.as_bytes());
    // An MGET part that failed fails the MGET, as an error reply, not a broken array.
    let parts = [b"*1\r\n$1\r\na\r\n".to_vec(), out.clone()];
    let mut reply = Vec::new();
    combine(Combine::Array, &parts, &mut reply);
    assert_eq!(reply, want.as_bytes());
}
