//! RESP2 request parsing: multibulk (`*N\r\n$L\r\n...`) and inline (`PING\r\n`) commands,
//! incremental (a partial request is `Partial`), bounded, never panicking on any input.
//!
//! Arguments are returned as byte ranges into the caller's buffer, so a pipelined batch is
//! parsed in place without copying. Errors carry Redis's own protocol-error text; Redis
//! closes the connection after one, and so do we.

use alloc::vec::Vec;
use core::ops::Range;

/// Bounds on one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest request, all bytes counted (a larger one is a protocol error).
    pub max_request: usize,
    /// Most arguments in one request.
    pub max_args: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_request: 64 * 1024,
            max_args: 1024,
        }
    }
}

/// A protocol error: the reply is `-ERR Protocol error: <text>` and the connection closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtoError {
    /// `*` count not a number, negative below -1, or over the argument bound.
    MultibulkLength,
    /// `$` length not a number, negative, or over the request bound.
    BulkLength,
    /// Something other than `$` where a bulk string must start (the byte found).
    ExpectedDollar(u8),
    /// An inline line longer than the request bound.
    InlineTooBig,
    /// An inline line with an unclosed quote.
    UnbalancedQuotes,
    /// A bulk string not followed by `\r\n`.
    MissingCrlf,
}

impl ProtoError {
    /// Redis's message for it (without `-ERR Protocol error: ` and the CRLF).
    pub fn write_message(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"-ERR Protocol error: ");
        match self {
            Self::MultibulkLength => out.extend_from_slice(b"invalid multibulk length"),
            Self::BulkLength => out.extend_from_slice(b"invalid bulk length"),
            Self::ExpectedDollar(b) => {
                out.extend_from_slice(b"expected '$', got '");
                out.push(*b);
                out.push(b'\'');
            }
            Self::InlineTooBig => out.extend_from_slice(b"too big inline request"),
            Self::UnbalancedQuotes => out.extend_from_slice(b"unbalanced quotes in request"),
            Self::MissingCrlf => out.extend_from_slice(b"invalid bulk format"),
        }
        out.extend_from_slice(b"\r\n");
    }
}

/// What the start of a buffer holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parse {
    /// A request of this many bytes; its arguments are in the caller's vector (none: an
    /// empty line or `*0`, which Redis skips without a reply).
    Complete(usize),
    /// More bytes are needed (only ever below [`Limits::max_request`] bytes).
    Partial,
    /// Malformed: answer and close.
    Error(ProtoError),
}

/// Finds `\r\n` in `buf[from..]`, returning the index of `\r`.
fn crlf(buf: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i + 1 < buf.len() {
        match buf[i..].iter().position(|&b| b == b'\r') {
            None => return None,
            Some(p) => {
                let at = i + p;
                if at + 1 < buf.len() && buf[at + 1] == b'\n' {
                    return Some(at);
                }
                i = at + 1;
            }
        }
    }
    None
}

/// A decimal number as Redis reads lengths: optional `-`, digits only, no overflow.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    if digits.is_empty() || digits.len() > 19 || (digits.len() > 1 && digits[0] == b'0') {
        return None;
    }
    let mut v: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_sub((d - b'0') as i64)?;
    }
    if neg {
        if v == 0 { None } else { Some(v) }
    } else {
        v.checked_neg()
    }
}

/// Parses the request at the start of `buf`, filling `args` with its arguments' ranges.
pub fn parse(buf: &[u8], l: &Limits, args: &mut Vec<Range<usize>>) -> Parse {
    args.clear();
    match buf.first() {
        None => Parse::Partial,
        Some(b'*') => multibulk(buf, l, args, true),
        Some(_) => inline(buf, l, args),
    }
}

/// [`parse`] through the general path alone (no [`quick_number`]): the reference the
/// tests compare the quick path with.
#[cfg(test)]
pub(crate) fn parse_general(buf: &[u8], l: &Limits, args: &mut Vec<Range<usize>>) -> Parse {
    args.clear();
    match buf.first() {
        None => Parse::Partial,
        Some(b'*') => multibulk(buf, l, args, false),
        Some(_) => inline(buf, l, args),
    }
}

/// The common case of a count or length line: `buf[at..]` starts with 1-17 digits (no
/// leading zero) and `\r\n`; the number and the index after the LF. `None` for anything
/// else (a sign, a partial line, a stray byte), which the general path (find the CRLF,
/// then [`parse_i64`]) decides as before: this only saves its second pass over the digits.
fn quick_number(buf: &[u8], at: usize) -> Option<(i64, usize)> {
    let digits = buf.get(at..)?;
    let mut v: i64 = 0;
    let mut n = 0;
    // 17 digits cannot overflow an i64.
    for &b in digits.iter().take(17) {
        if !b.is_ascii_digit() {
            break;
        }
        v = v * 10 + i64::from(b - b'0');
        n += 1;
    }
    let ok = n > 0
        && (n == 1 || digits[0] != b'0')
        && digits.get(n) == Some(&b'\r')
        && digits.get(n + 1) == Some(&b'\n');
    ok.then_some((v, at + n + 2))
}

fn multibulk(buf: &[u8], l: &Limits, args: &mut Vec<Range<usize>>, quick: bool) -> Parse {
    let (n, mut at) = match quick.then(|| quick_number(buf, 1)).flatten() {
        Some((n, next)) if n <= l.max_args as i64 => (n, next),
        Some(_) => return Parse::Error(ProtoError::MultibulkLength),
        None => match multibulk_count(buf, l) {
            Ok(count) => count,
            Err(p) => return p,
        },
    };
    if n <= 0 {
        return Parse::Complete(at);
    }
    for _ in 0..n {
        match buf.get(at) {
            None => return partial(buf, l),
            Some(b'$') => {}
            Some(&b) => return Parse::Error(ProtoError::ExpectedDollar(b)),
        }
        let (len, start) = match quick.then(|| quick_number(buf, at + 1)).flatten() {
            Some((len, next)) => (len, next),
            None => match bulk_length(buf, at, l) {
                Ok(found) => found,
                Err(p) => return p,
            },
        };
        let len = match len {
            len if len >= 0 && (len as usize) < l.max_request => len as usize,
            _ => return Parse::Error(ProtoError::BulkLength),
        };
        let stop = start + len;
        if stop + 2 > l.max_request {
            return Parse::Error(ProtoError::BulkLength);
        }
        if buf.len() < stop + 2 {
            return partial(buf, l);
        }
        if &buf[stop..stop + 2] != b"\r\n" {
            return Parse::Error(ProtoError::MissingCrlf);
        }
        args.push(start..stop);
        at = stop + 2;
    }
    Parse::Complete(at)
}

/// The general path for the `*` line: the count and the index after its CRLF.
fn multibulk_count(buf: &[u8], l: &Limits) -> Result<(i64, usize), Parse> {
    let Some(end) = crlf(buf, 1) else {
        // `Partial` only below the request bound: a connection holding a full buffer that
        // is still partial would wait for good.
        return Err(if buf.len() > 32 {
            Parse::Error(ProtoError::MultibulkLength)
        } else {
            partial(buf, l)
        });
    };
    match parse_i64(&buf[1..end]) {
        Some(n) if n <= l.max_args as i64 => Ok((n, end + 2)),
        _ => Err(Parse::Error(ProtoError::MultibulkLength)),
    }
}

/// The general path for a `$` line at `at`: the length and the index after its CRLF.
fn bulk_length(buf: &[u8], at: usize, l: &Limits) -> Result<(i64, usize), Parse> {
    let Some(end) = crlf(buf, at + 1) else {
        return Err(if buf.len() - at > 32 {
            Parse::Error(ProtoError::BulkLength)
        } else {
            partial(buf, l)
        });
    };
    match parse_i64(&buf[at + 1..end]) {
        Some(len) => Ok((len, end + 2)),
        None => Err(Parse::Error(ProtoError::BulkLength)),
    }
}

/// `Partial`, unless the bytes buffered already exceed the request bound.
fn partial(buf: &[u8], l: &Limits) -> Parse {
    if buf.len() >= l.max_request {
        Parse::Error(ProtoError::BulkLength)
    } else {
        Parse::Partial
    }
}

fn inline(buf: &[u8], l: &Limits, args: &mut Vec<Range<usize>>) -> Parse {
    let Some(nl) = buf.iter().position(|&b| b == b'\n') else {
        return if buf.len() >= l.max_request {
            Parse::Error(ProtoError::InlineTooBig)
        } else {
            Parse::Partial
        };
    };
    if nl >= l.max_request {
        return Parse::Error(ProtoError::InlineTooBig);
    }
    let line_end = if nl > 0 && buf[nl - 1] == b'\r' {
        nl - 1
    } else {
        nl
    };
    let line = &buf[..line_end];
    let mut i = 0;
    while i < line.len() {
        if line[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if args.len() >= l.max_args {
            return Parse::Error(ProtoError::MultibulkLength);
        }
        let q = line[i];
        if q == b'"' || q == b'\'' {
            // Quoted argument, taken verbatim (no escape sequences); must end at a space.
            let Some(p) = line[i + 1..].iter().position(|&b| b == q) else {
                return Parse::Error(ProtoError::UnbalancedQuotes);
            };
            let close = i + 1 + p;
            if close + 1 < line.len() && !line[close + 1].is_ascii_whitespace() {
                return Parse::Error(ProtoError::UnbalancedQuotes);
            }
            args.push(i + 1..close);
            i = close + 1;
        } else {
            let start = i;
            while i < line.len() && !line[i].is_ascii_whitespace() {
                i += 1;
            }
            args.push(start..i);
        }
    }
    Parse::Complete(nl + 1)
}
