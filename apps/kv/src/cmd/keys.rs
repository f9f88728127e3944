//! Key commands: DEL, EXISTS, EXPIRE/PEXPIRE (NX/XX/GT/LT), PERSIST, TTL/PTTL, TYPE,
//! DBSIZE and FLUSHALL over this core's keys.

use alloc::vec::Vec;

use super::{Exec, int_arg, upper};
use crate::reply;
use crate::store::Value;

pub(super) fn run(name: &str, a: &[&[u8]], x: &mut Exec<'_>, out: &mut Vec<u8>) {
    let now = x.now_ms;
    match name {
        "del" | "unlink" => {
            let mut n = 0;
            for k in a {
                if x.store.contains(k, now) && x.store.remove(k) {
                    n += 1;
                }
            }
            reply::int(out, n);
        }
        "exists" => {
            let n = a.iter().filter(|k| x.store.contains(k, now)).count();
            reply::int(out, n as i64);
        }
        "expire" | "pexpire" => expire(name, a, x, out),
        "persist" => {
            let had = x.store.update(a[0], now, |slot| match slot {
                Some(e) if e.expires_ms.is_some() => {
                    e.expires_ms = None;
                    true
                }
                _ => false,
            });
            reply::int(out, had as i64);
        }
        "ttl" | "pttl" => match x.store.get(a[0], now) {
            None => reply::int(out, -2),
            Some(e) => match e.expires_ms {
                None => reply::int(out, -1),
                Some(t) => {
                    let ms = t.saturating_sub(now) as i64;
                    reply::int(out, if name == "ttl" { (ms + 500) / 1000 } else { ms });
                }
            },
        },
        "type" => {
            let t = match x.store.get(a[0], now).map(|e| &e.value) {
                None => "none",
                Some(Value::Str(_)) => "string",
                Some(Value::List(_)) => "list",
                Some(Value::Set(_)) => "set",
                Some(Value::Hash(_)) => "hash",
                Some(Value::ZSet(_)) => "zset",
            };
            reply::simple(out, t);
        }
        "dbsize" => {
            x.store.expire_cycle(now, usize::MAX);
            reply::int(out, x.store.len() as i64);
        }
        _ => {
            // flushall / flushdb [ASYNC|SYNC]
            x.store.clear();
            reply::ok(out);
        }
    }
}

/// `EXPIRE key seconds [NX|XX|GT|LT]` (and PEXPIRE in ms).
fn expire(name: &str, a: &[&[u8]], x: &mut Exec<'_>, out: &mut Vec<u8>) {
    let Some(v) = int_arg(a[1], out) else { return };
    let ms = if name == "expire" {
        v.checked_mul(1000)
    } else {
        Some(v)
    };
    let at = ms.and_then(|ms| (x.now_ms as i64).checked_add(ms));
    let Some(at) = at else {
        reply::fmt(
            out,
            format_args!("-ERR invalid expire time in '{name}' command\r\n"),
        );
        return;
    };
    let mut cond = None;
    for opt in &a[2..] {
        let (b, n) = upper(opt);
        match (&b[..n], cond) {
            (c @ (b"NX" | b"XX" | b"GT" | b"LT"), None) => cond = Some(c.to_vec()),
            _ => {
                reply::error(
                    out,
                    "ERR NX and XX, GT or LT options at the same time are not compatible",
                );
                return;
            }
        }
    }
    let now = x.now_ms;
    if !x.store.contains(a[0], now) {
        reply::int(out, 0);
        return;
    }
    let set = x.store.update(a[0], now, |slot| {
        let Some(e) = slot else { return false };
        let ok = match cond.as_deref() {
            None => true,
            Some(b"NX") => e.expires_ms.is_none(),
            Some(b"XX") => e.expires_ms.is_some(),
            Some(b"GT") => e.expires_ms.is_some_and(|t| (at as u64) > t),
            _ => e.expires_ms.is_none_or(|t| (at.max(0) as u64) < t),
        };
        if ok {
            e.expires_ms = Some(at.max(0) as u64);
        }
        ok
    });
    if set && at <= now as i64 {
        // A time in the past deletes the key now, as in Redis.
        x.store.remove(a[0]);
    }
    reply::int(out, set as i64);
}
