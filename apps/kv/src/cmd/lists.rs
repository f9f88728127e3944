//! List commands: LPUSH, RPUSH, LPOP, RPOP (with a count), LLEN, LRANGE.

use alloc::vec::Vec;

use super::{Exec, int_arg};
use crate::reply;
use crate::store::{Entry, List, Value};

pub(super) fn run(name: &str, a: &[&[u8]], x: &mut Exec<'_>, out: &mut Vec<u8>) {
    let now = x.now_ms;
    match name {
        "lpush" | "rpush" => {
            let front = name == "lpush";
            let r = x.store.update(a[0], now, |slot| {
                let e = slot.get_or_insert_with(|| Entry {
                    value: Value::List(List::default()),
                    expires_ms: None,
                    touched: 0,
                });
                let Value::List(l) = &mut e.value else {
                    return Err(());
                };
                for v in &a[1..] {
                    if front {
                        l.push_front(v.to_vec());
                    } else {
                        l.push_back(v.to_vec());
                    }
                }
                Ok(l.len())
            });
            match r {
                Ok(n) => reply::int(out, n as i64),
                Err(()) => reply::error(out, reply::WRONGTYPE),
            }
        }
        "lpop" | "rpop" => pop(name == "lpop", a, x, out),
        "llen" => match x.store.get(a[0], now).map(|e| &e.value) {
            None => reply::int(out, 0),
            Some(Value::List(l)) => reply::int(out, l.len() as i64),
            Some(_) => reply::error(out, reply::WRONGTYPE),
        },
        _ => lrange(a, x, out),
    }
}

fn pop(front: bool, a: &[&[u8]], x: &mut Exec<'_>, out: &mut Vec<u8>) {
    if a.len() > 2 {
        reply::arity(out, if front { "lpop" } else { "rpop" });
        return;
    }
    let count = match a.get(1) {
        None => None,
        Some(c) => match crate::resp::parse_i64(c) {
            Some(n) if n >= 0 => Some(n as usize),
            _ => {
                reply::error(out, reply::NOT_POSITIVE);
                return;
            }
        },
    };
    match x.store.get(a[0], x.now_ms).map(|e| &e.value) {
        None => {
            if count.is_some() {
                reply::nil_array(out)
            } else {
                reply::nil(out)
            }
            return;
        }
        Some(Value::List(_)) => {}
        Some(_) => {
            reply::error(out, reply::WRONGTYPE);
            return;
        }
    }
    x.store.update(a[0], x.now_ms, |slot| {
        let Some(Entry {
            value: Value::List(l),
            ..
        }) = slot
        else {
            return;
        };
        let mut take = || if front { l.pop_front() } else { l.pop_back() };
        match count {
            None => match take() {
                Some(v) => reply::bulk(out, &v),
                None => reply::nil(out),
            },
            Some(n) => {
                let mut got = Vec::new();
                while got.len() < n {
                    match take() {
                        Some(v) => got.push(v),
                        None => break,
                    }
                }
                reply::array(out, got.len());
                for v in &got {
                    reply::bulk(out, v);
                }
            }
        }
    });
}

/// Redis's index range: negatives from the end, clamped; `None` when empty.
pub(super) fn range(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let s = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    let e = if stop < 0 {
        len + stop
    } else {
        stop.min(len - 1)
    };
    if s > e || s >= len {
        None
    } else {
        Some((s as usize, e as usize))
    }
}

fn lrange(a: &[&[u8]], x: &mut Exec<'_>, out: &mut Vec<u8>) {
    let Some(start) = int_arg(a[1], out) else {
        return;
    };
    let Some(stop) = int_arg(a[2], out) else {
        return;
    };
    match x.store.get(a[0], x.now_ms).map(|e| &e.value) {
        None => reply::array(out, 0),
        Some(Value::List(l)) => match range(start, stop, l.len()) {
            None => reply::array(out, 0),
            Some((s, e)) => {
                reply::array(out, e - s + 1);
                for v in l.range(s..=e) {
                    reply::bulk(out, v);
                }
            }
        },
        Some(_) => reply::error(out, reply::WRONGTYPE),
    }
}
