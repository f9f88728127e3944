//! Command execution against one core's [`Store`]: name lookup, arity, and the commands.
//!
//! Every command here touches at most one key (multi-key commands are split per key by
//! [`crate::route`] and their answers combined), so it can run on the core that owns the key.

use alloc::vec::Vec;

use crate::reply;
use crate::route::Combine as C;
use crate::store::Store;

mod keys;
mod lists;
mod server;
mod sets;
mod strings;

pub use server::ServerInfo;

/// What a command needs besides its arguments.
pub struct Exec<'a> {
    /// This core's keys.
    pub store: &'a mut Store,
    /// Now, ms (the store's clock).
    pub now_ms: u64,
    /// State for SPOP's choice.
    pub rng: &'a mut u64,
    /// What INFO and HELLO report.
    pub info: &'a ServerInfo,
}

impl Exec<'_> {
    /// A pseudo-random number (xorshift64*).
    pub(crate) fn random(&mut self) -> u64 {
        let mut x = *self.rng | 1;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        *self.rng = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// A command name, upper-cased into a small buffer (longer names match nothing).
pub fn upper(name: &[u8]) -> ([u8; 16], usize) {
    let mut b = [0u8; 16];
    let n = name.len().min(16);
    for (d, s) in b.iter_mut().zip(name) {
        *d = s.to_ascii_uppercase();
    }
    if name.len() > 16 { (b, 0) } else { (b, n) }
}

/// Arity as Redis states it: positive is exact, negative is "at least".
fn arity_ok(arity: i32, n: usize) -> bool {
    if arity >= 0 {
        n == arity as usize
    } else {
        n >= (-arity) as usize
    }
}

/// The module a command is in, so that running it takes no more name comparisons than
/// the module's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// String commands.
    Strings,
    /// List commands.
    Lists,
    /// Sets, hashes and sorted sets.
    Sets,
    /// Keyspace commands.
    Keys,
    /// Connection and server commands.
    Server,
}

/// Where a command's keys are, for routing it to the cores that own them
/// ([`crate::route::plan`]); part of the command table, so that routing compares no names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keys {
    /// No key: run where it arrives (PING, INFO, ...).
    None,
    /// Every core's keyspace, replies combined (DBSIZE, FLUSHALL).
    All(C),
    /// Each argument a key, one part per key, replies combined (MGET, DEL, EXISTS).
    Each(C),
    /// Key-value pairs, one part per pair (MSET).
    Pairs,
    /// The first argument is the key.
    First,
}

/// A command's name (lower case, for messages), arity, whether it may add memory
/// (checked against the limit first, as Redis's `denyoom`), its module, and where its keys
/// are.
pub fn lookup(name: &[u8]) -> Option<(&'static str, i32, bool, Group, Keys)> {
    let (b, n) = upper(name);
    Some(match &b[..n] {
        b"GET" => ("get", 2, false, Group::Strings, Keys::First),
        b"SET" => ("set", -3, true, Group::Strings, Keys::First),
        b"SETNX" => ("setnx", 3, true, Group::Strings, Keys::First),
        b"INCR" => ("incr", 2, true, Group::Strings, Keys::First),
        b"DECR" => ("decr", 2, true, Group::Strings, Keys::First),
        b"INCRBY" => ("incrby", 3, true, Group::Strings, Keys::First),
        b"DECRBY" => ("decrby", 3, true, Group::Strings, Keys::First),
        b"APPEND" => ("append", 3, true, Group::Strings, Keys::First),
        b"STRLEN" => ("strlen", 2, false, Group::Strings, Keys::First),
        b"MGET" => ("mget", -2, false, Group::Strings, Keys::Each(C::Array)),
        b"MSET" => ("mset", -3, true, Group::Strings, Keys::Pairs),
        b"DEL" => ("del", -2, false, Group::Keys, Keys::Each(C::Sum)),
        b"UNLINK" => ("unlink", -2, false, Group::Keys, Keys::Each(C::Sum)),
        b"EXISTS" => ("exists", -2, false, Group::Keys, Keys::Each(C::Sum)),
        b"EXPIRE" => ("expire", -3, false, Group::Keys, Keys::First),
        b"PEXPIRE" => ("pexpire", -3, false, Group::Keys, Keys::First),
        b"PERSIST" => ("persist", 2, false, Group::Keys, Keys::First),
        b"TTL" => ("ttl", 2, false, Group::Keys, Keys::First),
        b"PTTL" => ("pttl", 2, false, Group::Keys, Keys::First),
        b"TYPE" => ("type", 2, false, Group::Keys, Keys::First),
        b"DBSIZE" => ("dbsize", 1, false, Group::Keys, Keys::All(C::Sum)),
        b"FLUSHALL" => ("flushall", -1, false, Group::Keys, Keys::All(C::Ok)),
        b"FLUSHDB" => ("flushdb", -1, false, Group::Keys, Keys::All(C::Ok)),
        b"LPUSH" => ("lpush", -3, true, Group::Lists, Keys::First),
        b"RPUSH" => ("rpush", -3, true, Group::Lists, Keys::First),
        b"LPOP" => ("lpop", -2, false, Group::Lists, Keys::First),
        b"RPOP" => ("rpop", -2, false, Group::Lists, Keys::First),
        b"LLEN" => ("llen", 2, false, Group::Lists, Keys::First),
        b"LRANGE" => ("lrange", 4, false, Group::Lists, Keys::First),
        b"SADD" => ("sadd", -3, true, Group::Sets, Keys::First),
        b"SREM" => ("srem", -3, false, Group::Sets, Keys::First),
        b"SPOP" => ("spop", -2, false, Group::Sets, Keys::First),
        b"SCARD" => ("scard", 2, false, Group::Sets, Keys::First),
        b"SISMEMBER" => ("sismember", 3, false, Group::Sets, Keys::First),
        b"HSET" => ("hset", -4, true, Group::Sets, Keys::First),
        b"HGET" => ("hget", 3, false, Group::Sets, Keys::First),
        b"HLEN" => ("hlen", 2, false, Group::Sets, Keys::First),
        b"ZADD" => ("zadd", -4, true, Group::Sets, Keys::First),
        b"ZPOPMIN" => ("zpopmin", -2, false, Group::Sets, Keys::First),
        b"ZCARD" => ("zcard", 2, false, Group::Sets, Keys::First),
        b"ZSCORE" => ("zscore", 3, false, Group::Sets, Keys::First),
        b"PING" => ("ping", -1, false, Group::Server, Keys::None),
        b"ECHO" => ("echo", 2, false, Group::Server, Keys::None),
        b"HELLO" => ("hello", -1, false, Group::Server, Keys::None),
        b"CLIENT" => ("client", -2, false, Group::Server, Keys::None),
        b"COMMAND" => ("command", -1, false, Group::Server, Keys::None),
        b"CONFIG" => ("config", -2, false, Group::Server, Keys::None),
        b"SELECT" => ("select", 2, false, Group::Server, Keys::None),
        b"INFO" => ("info", -1, false, Group::Server, Keys::None),
        b"QUIT" => ("quit", -1, false, Group::Server, Keys::None),
        b"RESET" => ("reset", 1, false, Group::Server, Keys::None),
        _ => return None,
    })
}

/// Runs one command (its arity already checked or not: checked here too) and appends its
/// reply to `out`.
pub fn execute(args: &[&[u8]], x: &mut Exec<'_>, out: &mut Vec<u8>) {
    let Some(&name) = args.first() else {
        return;
    };
    let Some((lname, arity, denyoom, group, _)) = lookup(name) else {
        reply::unknown(out, args);
        return;
    };
    if !arity_ok(arity, args.len()) {
        reply::arity(out, lname);
        return;
    }
    if denyoom {
        // Roughly what the write adds: its arguments and an entry.
        let extra: usize = args[1..].iter().map(|a| a.len()).sum::<usize>()
            + crate::store::ENTRY_OVERHEAD
            + args.len() * crate::store::ELEMENT_OVERHEAD;
        // The keys it may add: MSET's every other argument, any other write's first.
        let stride = if lname == "mset" { 2 } else { args.len() };
        if !x
            .store
            .admit(extra, args[1..].iter().step_by(stride).copied())
        {
            reply::error(out, reply::OOM);
            return;
        }
    }
    let a = &args[1..];
    match group {
        Group::Strings => strings::run(lname, a, x, out),
        Group::Lists => lists::run(lname, a, x, out),
        Group::Sets => sets::run(lname, a, x, out),
        Group::Keys => keys::run(lname, a, x, out),
        Group::Server => server::run(lname, a, x, out),
    }
}

/// An integer argument, or `-ERR value is not an integer or out of range` in `out`.
pub(crate) fn int_arg(a: &[u8], out: &mut Vec<u8>) -> Option<i64> {
    let v = crate::resp::parse_i64(a);
    if v.is_none() {
        reply::error(out, reply::NOT_INTEGER);
    }
    v
}
