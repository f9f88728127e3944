//! Which core runs a command: keys are partitioned across cores by hash, so a command on one
//! key runs on the key's owner, and a multi-key command is split into one part per key (or
//! per core, for DBSIZE and FLUSHALL) whose replies are combined in order.

use alloc::vec::Vec;

use crate::cmd::{self, Keys};
use crate::node::Args;

/// The core that owns `key` among `cores`: FNV-1a of the key, or of its hash tag (the bytes
/// between the first `{` and the next `}`, when not empty) as Redis Cluster does, so that
/// related keys can be kept on one core.
pub fn owner(key: &[u8], cores: usize) -> usize {
    if cores <= 1 {
        return 0;
    }
    let mut k = key;
    if let Some(open) = key.iter().position(|&b| b == b'{')
        && let Some(len) = key[open + 1..].iter().position(|&b| b == b'}')
        && len > 0
    {
        k = &key[open + 1..open + 1 + len];
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in k {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    // Fold the high bits in: FNV's low bits alone spread short keys poorly.
    ((h ^ (h >> 32)) % cores as u64) as usize
}

/// How the parts' replies become the command's reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Combine {
    /// One part: its reply as it is.
    Single,
    /// Each part is a one-element array; the reply is the array of their elements (MGET).
    Array,
    /// Each part is an integer; the reply is their sum (DEL, EXISTS, DBSIZE).
    Sum,
    /// `+OK` unless a part failed (then its error) (MSET, FLUSHALL).
    Ok,
}

/// One part of a command: the arguments to run on core `owner`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The core that runs it.
    pub owner: usize,
    /// Its arguments (the command name first), in one block.
    pub args: Args,
}

/// Where a command runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Here, whole (no key, keys all owned here, or an error to answer).
    Here,
    /// On other cores (some parts may still be this core's), combined.
    Split(Vec<Part>, Combine),
}

fn part(owner: usize, name: &[u8], rest: &[&[u8]]) -> Part {
    let args = Args::new(core::iter::once(name).chain(rest.iter().copied()));
    Part { owner, args }
}

/// The plan for `args` on core `me` of `cores`.
pub fn plan(args: &[&[u8]], me: usize, cores: usize) -> Plan {
    if cores <= 1 {
        return Plan::Here;
    }
    let Some((_, arity, _, _, at)) = args.first().and_then(|a| cmd::lookup(a)) else {
        return Plan::Here;
    };
    let n = args.len();
    if (arity >= 0 && n != arity as usize) || (arity < 0 && n < (-arity) as usize) {
        return Plan::Here;
    }
    let keys = &args[1..];
    let (parts, combine): (Vec<Part>, Combine) = match at {
        Keys::None => return Plan::Here,
        Keys::All(how) => ((0..cores).map(|c| part(c, args[0], keys)).collect(), how),
        Keys::Each(how) => (
            keys.iter()
                .map(|k| part(owner(k, cores), args[0], &[k]))
                .collect(),
            how,
        ),
        Keys::Pairs => {
            if !keys.len().is_multiple_of(2) {
                return Plan::Here;
            }
            (
                keys.chunks(2)
                    .map(|kv| part(owner(kv[0], cores), args[0], kv))
                    .collect(),
                Combine::Ok,
            )
        }
        Keys::First => {
            let o = owner(args[1], cores);
            if o == me {
                return Plan::Here;
            }
            return Plan::Split(alloc::vec![part(o, args[0], keys)], Combine::Single);
        }
    };
    if parts.iter().all(|p| p.owner == me) {
        Plan::Here
    } else {
        Plan::Split(parts, combine)
    }
}

/// Combines the parts' replies (each a complete RESP reply) into `out`.
pub fn combine(how: Combine, parts: &[Vec<u8>], out: &mut Vec<u8>) {
    match how {
        Combine::Single => parts.iter().for_each(|p| out.extend_from_slice(p)),
        Combine::Array => {
            // A part that failed (its reply too long for the owner's heap) fails the whole.
            if let Some(e) = parts.iter().find(|p| p.first() == Some(&b'-')) {
                out.extend_from_slice(e);
                return;
            }
            crate::reply::array(out, parts.len());
            for p in parts {
                // Drop the part's `*1\r\n` header.
                let body = p
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(&p[..0], |nl| &p[nl + 1..]);
                out.extend_from_slice(body);
            }
        }
        Combine::Sum | Combine::Ok => {
            if let Some(e) = parts.iter().find(|p| p.first() == Some(&b'-')) {
                out.extend_from_slice(e);
                return;
            }
            if how == Combine::Ok {
                crate::reply::ok(out);
                return;
            }
            let sum: i64 = parts
                .iter()
                .filter_map(|p| {
                    let line = p.get(1..p.len().saturating_sub(2))?;
                    crate::resp::parse_i64(line)
                })
                .fold(0i64, |a, b| a.saturating_add(b));
            crate::reply::int(out, sum);
        }
    }
}
