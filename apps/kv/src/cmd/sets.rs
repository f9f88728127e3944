//! Set, hash and sorted-set commands: SADD, SREM, SPOP, SCARD, SISMEMBER, HSET, HGET, HLEN,
//! ZADD (NX/XX/CH), ZPOPMIN, ZCARD, ZSCORE.

use alloc::vec::Vec;

use super::{Exec, upper};
use crate::reply;
use crate::store::{Entry, Hash, Score, Set, Value, ZSet};

/// Runs `f` on the key's value made with `empty` when absent; `Err` when it holds another
/// type.
fn with<R>(
    key: &[u8],
    x: &mut Exec<'_>,
    empty: fn() -> Value,
    f: impl FnOnce(&mut Value) -> Option<R>,
) -> Result<R, ()> {
    x.store.update(key, x.now_ms, |slot| {
        let e = slot.get_or_insert_with(|| Entry {
            value: empty(),
            expires_ms: None,
            touched: 0,
        });
        f(&mut e.value).ok_or(())
    })
}

fn int_or_wrongtype(r: Result<usize, ()>, out: &mut Vec<u8>) {
    match r {
        Ok(n) => reply::int(out, n as i64),
        Err(()) => reply::error(out, reply::WRONGTYPE),
    }
}

pub(super) fn run(name: &str, a: &[&[u8]], x: &mut Exec<'_>, out: &mut Vec<u8>) {
    match name {
        "sadd" => {
            let r = with(
                a[0],
                x,
                || Value::Set(Set::default()),
                |v| match v {
                    Value::Set(s) => Some(a[1..].iter().filter(|m| s.insert(m.to_vec())).count()),
                    _ => None,
                },
            );
            int_or_wrongtype(r, out);
        }
        "hset" => {
            if a.len().is_multiple_of(2) {
                reply::arity(out, "hset");
                return;
            }
            let r = with(
                a[0],
                x,
                || Value::Hash(Hash::default()),
                |v| match v {
                    Value::Hash(h) => Some(
                        a[1..]
                            .chunks(2)
                            .filter(|fv| h.insert(fv[0].to_vec(), fv[1].to_vec()).is_none())
                            .count(),
                    ),
                    _ => None,
                },
            );
            int_or_wrongtype(r, out);
        }
        "zadd" => zadd(a, x, out),
        _ => read_or_pop(name, a, x, out),
    }
}

/// Commands that never create the key: a missing key is an empty value.
fn read_or_pop(name: &str, a: &[&[u8]], x: &mut Exec<'_>, out: &mut Vec<u8>) {
    let want: fn(&Value) -> bool = match name {
        "srem" | "spop" | "scard" | "sismember" => |v| matches!(v, Value::Set(_)),
        "hget" | "hlen" => |v| matches!(v, Value::Hash(_)),
        _ => |v| matches!(v, Value::ZSet(_)),
    };
    let exists = match x.store.get(a[0], x.now_ms).map(|e| want(&e.value)) {
        None => false,
        Some(false) => {
            reply::error(out, reply::WRONGTYPE);
            return;
        }
        Some(true) => true,
    };
    let count = match (name, a.get(1)) {
        ("spop" | "zpopmin", Some(c)) => match crate::resp::parse_i64(c) {
            Some(n) if n >= 0 => Some(n as usize),
            _ => {
                reply::error(out, reply::NOT_POSITIVE);
                return;
            }
        },
        _ => None,
    };
    if (name == "spop" || name == "zpopmin") && a.len() > 2 {
        reply::error(out, reply::SYNTAX);
        return;
    }
    if !exists {
        match name {
            "hget" | "zscore" => reply::nil(out),
            "spop" if count.is_none() => reply::nil(out),
            "spop" | "zpopmin" => reply::array(out, 0),
            _ => reply::int(out, 0),
        }
        return;
    }
    let pick = x.random();
    let now = x.now_ms;
    x.store.update(a[0], now, |slot| {
        let Some(e) = slot else { return };
        match (&mut e.value, name) {
            (Value::Set(s), "srem") => {
                let n = a[1..].iter().filter(|m| s.remove(m)).count();
                reply::int(out, n as i64);
            }
            (Value::Set(s), "scard") => reply::int(out, s.len() as i64),
            (Value::Set(s), "sismember") => reply::int(out, s.contains(a[1]) as i64),
            (Value::Set(s), _) => {
                // spop: a pseudo-random member (walking to it is O(n), fine for small sets).
                let n = count.unwrap_or(1).min(s.len());
                let mut got = Vec::with_capacity(n);
                for i in 0..n {
                    let at = (pick.wrapping_add(i as u64) % s.len() as u64) as usize;
                    if let Some(m) = s.iter().nth(at).cloned() {
                        s.remove(&m);
                        got.push(m);
                    }
                }
                if count.is_none() {
                    match got.first() {
                        Some(m) => reply::bulk(out, m),
                        None => reply::nil(out),
                    }
                } else {
                    reply::array(out, got.len());
                    got.iter().for_each(|m| reply::bulk(out, m));
                }
            }
            (Value::Hash(h), "hget") => match h.get(a[1]) {
                Some(v) => reply::bulk(out, v),
                None => reply::nil(out),
            },
            (Value::Hash(h), _) => reply::int(out, h.len() as i64),
            (Value::ZSet(z), "zcard") => reply::int(out, z.len() as i64),
            (Value::ZSet(z), "zscore") => match z.score(a[1]) {
                Some(s) => reply::score(out, s.0),
                None => reply::nil(out),
            },
            (Value::ZSet(z), _) => {
                let n = count.unwrap_or(1).min(z.len());
                reply::array(out, 2 * n);
                for _ in 0..n {
                    if let Some((s, m)) = z.pop_min() {
                        reply::bulk(out, &m);
                        reply::score(out, s.0);
                    }
                }
            }
            _ => {}
        }
    });
}

fn parse_score(a: &[u8]) -> Option<f64> {
    let s = core::str::from_utf8(a).ok()?;
    let v = match s {
        "+inf" | "inf" => f64::INFINITY,
        "-inf" => f64::NEG_INFINITY,
        _ => s.parse::<f64>().ok()?,
    };
    (!v.is_nan()).then_some(v)
}

/// `ZADD key [NX|XX] [CH] score member [score member ...]`.
fn zadd(a: &[&[u8]], x: &mut Exec<'_>, out: &mut Vec<u8>) {
    let (mut nx, mut xx, mut ch) = (false, false, false);
    let mut i = 1;
    while i < a.len() {
        let (b, n) = upper(a[i]);
        match &b[..n] {
            b"NX" => nx = true,
            b"XX" => xx = true,
            b"CH" => ch = true,
            _ => break,
        }
        i += 1;
    }
    let pairs = &a[i..];
    if pairs.is_empty() || !pairs.len().is_multiple_of(2) {
        reply::error(out, reply::SYNTAX);
        return;
    }
    if nx && xx {
        reply::error(
            out,
            "ERR XX and NX options at the same time are not compatible",
        );
        return;
    }
    let mut scores = Vec::with_capacity(pairs.len() / 2);
    for p in pairs.chunks(2) {
        match parse_score(p[0]) {
            Some(s) => scores.push((Score(s), p[1])),
            None => {
                reply::error(out, reply::NOT_FLOAT);
                return;
            }
        }
    }
    let r = with(
        a[0],
        x,
        || Value::ZSet(ZSet::default()),
        |v| {
            let Value::ZSet(z) = v else { return None };
            let (mut added, mut changed) = (0, 0);
            for (s, m) in &scores {
                match z.score(m) {
                    Some(old) if !nx && old != *s => {
                        z.set(m, *s);
                        changed += 1;
                    }
                    None if !xx => {
                        z.set(m, *s);
                        added += 1;
                    }
                    _ => {}
                }
            }
            Some(if ch { added + changed } else { added })
        },
    );
    int_or_wrongtype(r, out);
}
