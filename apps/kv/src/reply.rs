//! RESP2 replies written into an output buffer, and the error texts Redis 7 uses.

use alloc::vec::Vec;
use core::fmt::Write;

/// `-WRONGTYPE ...`: the key holds another type.
pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
/// A number argument that is not an integer in range.
pub const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
/// A score that is not a float.
pub const NOT_FLOAT: &str = "ERR value is not a valid float";
/// Bad option combination.
pub const SYNTAX: &str = "ERR syntax error";
/// INCR past i64.
pub const OVERFLOW: &str = "ERR increment or decrement would overflow";
/// A write refused by the memory limit (`maxmemory-policy noeviction`, or nothing to evict).
pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";
/// A count that must be positive.
pub const NOT_POSITIVE: &str = "ERR value is out of range, must be positive";

/// The largest reply a connection is sent (Redis's output buffer limit, in spirit): a session
/// sheds a connection whose reply is longer (`session::Limits::max_reply`). A reply is built
/// whole before that check, and a list or a string may hold about half a core's heap (one
/// LRANGE or GET of it would copy it all), so [`bulk`] stops copying past this length: it
/// leaves the reply `MAX_REPLY + 1` bytes long instead, which the session sheds unsent.
pub const MAX_REPLY: usize = 1 << 20;
/// The reply instead, when the heap cannot even give the `MAX_REPLY + 1` bytes that mark a
/// reply as too long: the client gets an error rather than the machine a failed allocation.
pub const TOO_LONG: &str = "ERR reply too long for this core's heap";

/// A `Vec<u8>` that `write!` can format into.
struct Buf<'a>(&'a mut Vec<u8>);

impl Write for Buf<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// `+OK`.
pub fn ok(out: &mut Vec<u8>) {
    out.extend_from_slice(b"+OK\r\n");
}

/// `+<s>`.
pub fn simple(out: &mut Vec<u8>, s: &str) {
    out.push(b'+');
    out.extend_from_slice(s.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// `-<msg>` (the message starts with its code, e.g. `ERR`).
pub fn error(out: &mut Vec<u8>, msg: &str) {
    out.push(b'-');
    out.extend_from_slice(msg.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// `-ERR wrong number of arguments for '<cmd>' command`.
pub fn arity(out: &mut Vec<u8>, cmd: &str) {
    let _ = write!(
        Buf(out),
        "-ERR wrong number of arguments for '{cmd}' command\r\n"
    );
}

/// `-ERR unknown command '<name>', with args beginning with: '<a>' ...`, as Redis 7 writes it.
pub fn unknown(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.extend_from_slice(b"-ERR unknown command '");
    push_clean(out, args.first().copied().unwrap_or(b""), 128);
    out.extend_from_slice(b"', with args beginning with: ");
    let mut room: usize = 128;
    for a in args.iter().skip(1) {
        if room == 0 {
            break;
        }
        out.push(b'\'');
        let n = a.len().min(room);
        push_clean(out, &a[..n], n);
        room -= n;
        out.extend_from_slice(b"' ");
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends up to `max` bytes of `s`, with CR/LF (which would end the error line) as spaces.
fn push_clean(out: &mut Vec<u8>, s: &[u8], max: usize) {
    for &b in s.iter().take(max) {
        out.push(if b == b'\r' || b == b'\n' { b' ' } else { b });
    }
}

/// Appends `n` in decimal (`corenet_http::response::decimal`, by hand: every integer reply
/// and bulk length goes through here).
pub fn decimal(out: &mut Vec<u8>, n: i64) {
    if n < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(corenet_http::response::decimal(
        n.unsigned_abs(),
        &mut [0; 20],
    ));
}

/// A `<prefix><n>\r\n` line.
fn line(out: &mut Vec<u8>, prefix: u8, n: i64) {
    out.push(prefix);
    decimal(out, n);
    out.extend_from_slice(b"\r\n");
}

/// `:<n>`.
pub fn int(out: &mut Vec<u8>, n: i64) {
    line(out, b':', n);
}

/// `$<len>\r\n<bytes>`.
pub fn bulk(out: &mut Vec<u8>, b: &[u8]) {
    if out.first() == Some(&b'-') {
        // An error took this reply's place (`mark_too_long`): nothing more goes in.
        return;
    }
    if out.len().saturating_add(b.len()) > MAX_REPLY {
        // Too long to be sent: not built further (see MAX_REPLY).
        if out.len() <= MAX_REPLY {
            let room = out.try_reserve_exact(MAX_REPLY + 1 - out.len()).is_ok();
            mark_too_long(out, room);
        }
        return;
    }
    out.reserve(b.len() + 16);
    line(out, b'$', b.len() as i64);
    out.extend_from_slice(b);
    out.extend_from_slice(b"\r\n");
}

/// Marks `out` (one command's reply, begun empty) as too long to send: `MAX_REPLY + 1`
/// bytes, which the session sheds, if `room` says the heap gave them; else an error reply
/// ([`TOO_LONG`]) in its place. The mark is an allocation a client's request asks for, so it
/// is fallible: under a heap too low for it, the machine must not stop.
pub(crate) fn mark_too_long(out: &mut Vec<u8>, room: bool) {
    if room {
        out.resize(MAX_REPLY + 1, b'?');
    } else {
        out.clear();
        error(out, TOO_LONG);
    }
}

/// `$-1` (nil).
pub fn nil(out: &mut Vec<u8>) {
    out.extend_from_slice(b"$-1\r\n");
}

/// `*-1` (nil array).
pub fn nil_array(out: &mut Vec<u8>) {
    out.extend_from_slice(b"*-1\r\n");
}

/// `*<n>` (the elements follow).
pub fn array(out: &mut Vec<u8>, n: usize) {
    line(out, b'*', n as i64);
}

/// A score as Redis prints it: integral values without a fraction, others shortest form.
pub fn score(out: &mut Vec<u8>, s: f64) {
    let mut tmp = Vec::new();
    if s.is_infinite() {
        tmp.extend_from_slice(if s > 0.0 { b"inf" } else { b"-inf" });
    } else if s == (s as i64) as f64 && s.abs() < 1e17 {
        let _ = write!(Buf(&mut tmp), "{}", s as i64);
    } else {
        let _ = write!(Buf(&mut tmp), "{s}");
    }
    bulk(out, &tmp);
}

/// Formats into `out` (for INFO and the like).
pub fn fmt(out: &mut Vec<u8>, args: core::fmt::Arguments<'_>) {
    let _ = Buf(out).write_fmt(args);
}
