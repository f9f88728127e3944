//! String commands: GET, SET (EX/PX/NX/XX/KEEPTTL/GET), SETNX, INCR and friends, APPEND,
//! STRLEN, and MGET/MSET over keys this core owns.

use alloc::vec::Vec;

use super::{Exec, int_arg, upper};
use crate::reply;
use crate::store::{Entry, Value};

pub(super) fn run(name: &str, a: &[&[u8]], x: &mut Exec<'_>, out: &mut Vec<u8>) {
    match name {
        "get" => get(a[0], x, out),
        "set" => set(a, x, out),
        "setnx" => set(&[a[0], a[1], b"NX"], x, out),
        "incr" => incr_by(a[0], 1, x, out),
        "decr" => incr_by(a[0], -1, x, out),
        "incrby" | "decrby" => {
            let Some(n) = int_arg(a[1], out) else { return };
            let n = if name == "decrby" {
                n.checked_neg()
            } else {
                Some(n)
            };
            match n {
                Some(n) => incr_by(a[0], n, x, out),
                None => reply::error(out, reply::OVERFLOW),
            }
        }
        "append" => append(a, x, out),
        "strlen" => match x.store.get(a[0], x.now_ms).map(|e| &e.value) {
            None => reply::int(out, 0),
            Some(Value::Str(s)) => reply::int(out, s.len() as i64),
            Some(_) => reply::error(out, reply::WRONGTYPE),
        },
        "mget" => {
            reply::array(out, a.len());
            for k in a {
                match x.store.get(k, x.now_ms).map(|e| &e.value) {
                    Some(Value::Str(s)) => reply::bulk(out, s),
                    _ => reply::nil(out),
                }
            }
        }
        _ => {
            // mset
            if !a.len().is_multiple_of(2) {
                reply::arity(out, "mset");
                return;
            }
            for kv in a.chunks(2) {
                store_str(kv[0], kv[1].to_vec(), None, x);
            }
            reply::ok(out);
        }
    }
}

fn get(key: &[u8], x: &mut Exec<'_>, out: &mut Vec<u8>) {
    match x.store.get(key, x.now_ms).map(|e| &e.value) {
        None => reply::nil(out),
        Some(Value::Str(s)) => reply::bulk(out, s),
        Some(_) => reply::error(out, reply::WRONGTYPE),
    }
}

fn store_str(key: &[u8], v: Vec<u8>, expires_ms: Option<u64>, x: &mut Exec<'_>) {
    x.store.update(key, x.now_ms, |slot| {
        *slot = Some(Entry {
            value: Value::Str(v),
            expires_ms,
            touched: 0,
        });
    });
}

/// `SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL]`.
fn set(a: &[&[u8]], x: &mut Exec<'_>, out: &mut Vec<u8>) {
    let (mut nx, mut xx, mut get_old, mut keepttl) = (false, false, false, false);
    let mut expires: Option<u64> = None;
    let mut i = 2;
    while i < a.len() {
        let (b, n) = upper(a[i]);
        let opt = &b[..n];
        let has_next = i + 1 < a.len();
        match opt {
            b"NX" if !xx => nx = true,
            b"XX" if !nx => xx = true,
            b"GET" => get_old = true,
            b"KEEPTTL" if expires.is_none() => keepttl = true,
            b"EX" | b"PX" | b"EXAT" | b"PXAT" if has_next && expires.is_none() && !keepttl => {
                i += 1;
                let Some(v) = int_arg(a[i], out) else { return };
                let ms = match opt {
                    b"EX" | b"EXAT" => v.checked_mul(1000),
                    _ => Some(v),
                };
                let at = match (ms, opt) {
                    (Some(ms), _) if ms <= 0 => None,
                    (Some(ms), b"EX" | b"PX") => x.now_ms.checked_add(ms as u64),
                    (Some(ms), _) => Some(ms as u64),
                    (None, _) => None,
                };
                let Some(at) = at else {
                    reply::error(out, "ERR invalid expire time in 'set' command");
                    return;
                };
                expires = Some(at);
            }
            _ => {
                reply::error(out, reply::SYNTAX);
                return;
            }
        }
        i += 1;
    }
    let (key, val) = (a[0], a[1]);
    // One walk to the key for the whole command: the old value is looked at, and the new one
    // put, in its place (the old string moves into GET's reply instead of being copied).
    let r = x.store.update(key, x.now_ms, |slot| {
        let string = |e: &Entry| matches!(e.value, Value::Str(_));
        if get_old && slot.as_ref().is_some_and(|e| !string(e)) {
            return Err(());
        }
        let exists = slot.is_some();
        let write = !(nx && exists || xx && !exists);
        if !write {
            let old = match slot.as_ref().map(|e| &e.value) {
                Some(Value::Str(s)) if get_old => Some(s.clone()),
                _ => None,
            };
            return Ok((false, old));
        }
        // KEEPTTL keeps the key's expiry whatever its type was, as Redis does.
        let expires_ms = if keepttl {
            slot.as_ref().and_then(|e| e.expires_ms)
        } else {
            expires
        };
        // Overwriting a string whose buffer fits the new value (and is not more than twice
        // its size, so little memory hides outside the count): the bytes are copied into it,
        // no allocation and no free (one key SET over and over, as redis-benchmark does).
        if !get_old
            && let Some(Entry {
                value: Value::Str(s),
                expires_ms: e,
                ..
            }) = slot.as_mut()
            && s.capacity() >= val.len()
            && s.capacity() <= val.len().max(16) * 2
        {
            s.clear();
            s.extend_from_slice(val);
            *e = expires_ms;
            return Ok((true, None));
        }
        let new = Entry {
            value: Value::Str(val.to_vec()),
            expires_ms,
            touched: 0,
        };
        let old = match slot.replace(new) {
            Some(Entry {
                value: Value::Str(s),
                ..
            }) if get_old => Some(s),
            _ => None,
        };
        Ok((true, old))
    });
    match (r, get_old) {
        (Err(()), _) => reply::error(out, reply::WRONGTYPE),
        (Ok((_, Some(s))), true) => reply::bulk(out, &s),
        (Ok(_), true) => reply::nil(out),
        (Ok((true, _)), false) => reply::ok(out),
        (Ok((false, _)), false) => reply::nil(out),
    }
}

fn incr_by(key: &[u8], by: i64, x: &mut Exec<'_>, out: &mut Vec<u8>) {
    let r = x.store.update(key, x.now_ms, |slot| {
        let cur = match slot.as_ref().map(|e| &e.value) {
            None => 0,
            Some(Value::Str(s)) => match crate::resp::parse_i64(s) {
                Some(v) => v,
                None => return Err(reply::NOT_INTEGER),
            },
            Some(_) => return Err(reply::WRONGTYPE),
        };
        let v = cur.checked_add(by).ok_or(reply::OVERFLOW)?;
        match slot {
            // The number is rewritten in the string's own buffer (no allocation, usually).
            Some(Entry {
                value: Value::Str(s),
                ..
            }) => {
                s.clear();
                reply::decimal(s, v);
            }
            Some(_) => return Err(reply::WRONGTYPE),
            None => {
                let mut s = Vec::new();
                reply::decimal(&mut s, v);
                *slot = Some(Entry {
                    value: Value::Str(s),
                    expires_ms: None,
                    touched: 0,
                })
            }
        }
        Ok(v)
    });
    match r {
        Ok(v) => reply::int(out, v),
        Err(e) => reply::error(out, e),
    }
}

fn append(a: &[&[u8]], x: &mut Exec<'_>, out: &mut Vec<u8>) {
    let r = x.store.update(a[0], x.now_ms, |slot| match slot {
        None => {
            *slot = Some(Entry {
                value: Value::Str(a[1].to_vec()),
                expires_ms: None,
                touched: 0,
            });
            Ok(a[1].len())
        }
        Some(Entry {
            value: Value::Str(s),
            ..
        }) => {
            s.extend_from_slice(a[1]);
            Ok(s.len())
        }
        Some(_) => Err(()),
    });
    match r {
        Ok(n) => reply::int(out, n as i64),
        Err(()) => reply::error(out, reply::WRONGTYPE),
    }
}
