//! Responses: status line, the few headers corenet sends, body.

use alloc::vec::Vec;

/// Statuses corenet's servers send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// 200 OK.
    Ok,
    /// 400 Bad Request.
    BadRequest,
    /// 404 Not Found.
    NotFound,
    /// 405 Method Not Allowed.
    MethodNotAllowed,
    /// 413 Content Too Large.
    ContentTooLarge,
    /// 431 Request Header Fields Too Large.
    HeaderTooLarge,
    /// 501 Not Implemented.
    NotImplemented,
    /// 503 Service Unavailable.
    Unavailable,
    /// 505 HTTP Version Not Supported.
    VersionNotSupported,
}

impl Status {
    /// Code and reason phrase.
    pub fn line(self) -> (u16, &'static str) {
        match self {
            Self::Ok => (200, "OK"),
            Self::BadRequest => (400, "Bad Request"),
            Self::NotFound => (404, "Not Found"),
            Self::MethodNotAllowed => (405, "Method Not Allowed"),
            Self::ContentTooLarge => (413, "Content Too Large"),
            Self::HeaderTooLarge => (431, "Request Header Fields Too Large"),
            Self::NotImplemented => (501, "Not Implemented"),
            Self::Unavailable => (503, "Service Unavailable"),
            Self::VersionNotSupported => (505, "HTTP Version Not Supported"),
        }
    }
}

/// A response body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// Built into the image.
    Static(&'static [u8]),
    /// Made for this request.
    Owned(Vec<u8>),
    /// `len` bytes made by repeating `pattern` (non-empty unless `len` is 0): a body of any
    /// size that is never buffered. [`Response::write`] writes only the head; the connection
    /// ([`crate::Conn`]) hands the pattern's bytes to TCP straight from the image as the
    /// client takes them.
    Repeat {
        /// Body length in bytes.
        len: usize,
        /// The bytes repeated.
        pattern: &'static [u8],
    },
}

impl Body {
    /// The bytes written after the head ([`Body::Repeat`]'s are streamed instead).
    fn inline(&self) -> &[u8] {
        match self {
            Self::Static(b) => b,
            Self::Owned(v) => v,
            Self::Repeat { .. } => &[],
        }
    }

    /// The `Content-Length`.
    pub fn len(&self) -> usize {
        match self {
            Self::Repeat { len, .. } => *len,
            b => b.inline().len(),
        }
    }

    /// Whether the body is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What a router answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status.
    pub status: Status,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// Body (not sent for HEAD, but its length is).
    pub body: Body,
    /// One extra header, e.g. `("Allow", "GET, HEAD")`.
    pub extra: Option<(&'static str, &'static str)>,
}

impl Response {
    /// A response with a static body.
    pub fn new(status: Status, content_type: &'static str, body: &'static [u8]) -> Self {
        Self {
            status,
            content_type,
            body: Body::Static(body),
            extra: None,
        }
    }

    /// A response whose body is `len` bytes of `pattern` repeated, streamed without being
    /// buffered (see [`Body::Repeat`]). An empty `pattern` makes an empty body.
    pub fn repeat(
        status: Status,
        content_type: &'static str,
        pattern: &'static [u8],
        len: usize,
    ) -> Self {
        Self {
            status,
            content_type,
            body: Body::Repeat {
                len: if pattern.is_empty() { 0 } else { len },
                pattern,
            },
            extra: None,
        }
    }

    /// A plain-text error page for `status`.
    pub fn error(status: Status) -> Self {
        let body: &'static [u8] = match status {
            Status::BadRequest => b"400 bad request\n",
            Status::NotFound => b"404 not found\n",
            Status::MethodNotAllowed => b"405 method not allowed\n",
            Status::ContentTooLarge => b"413 content too large\n",
            Status::HeaderTooLarge => b"431 request header fields too large\n",
            Status::NotImplemented => b"501 not implemented\n",
            Status::Unavailable => b"503 service unavailable\n",
            Status::VersionNotSupported => b"505 http version not supported\n",
            Status::Ok => b"ok\n",
        };
        let mut r = Self::new(status, "text/plain; charset=utf-8", body);
        if status == Status::MethodNotAllowed {
            r.extra = Some(("Allow", "GET, HEAD"));
        }
        r
    }

    /// Bytes [`write`](Self::write) appends, so the buffer can be grown fallibly first (for a
    /// [`Body::Repeat`], the head only).
    pub fn encoded_len(&self, head_only: bool, keep_alive: bool) -> usize {
        let mut n = 0;
        self.head(keep_alive, |part| n += part.len());
        if !head_only {
            n += self.body.inline().len();
        }
        n
    }

    /// Appends the encoded response to `out` (for a [`Body::Repeat`], the head only).
    pub fn write(&self, out: &mut Vec<u8>, head_only: bool, keep_alive: bool) {
        self.head(keep_alive, |part| out.extend_from_slice(part));
        if !head_only {
            out.extend_from_slice(self.body.inline());
        }
    }

    /// The head, part by part, for [`write`](Self::write) and
    /// [`encoded_len`](Self::encoded_len) alike. Numbers are written by hand: through
    /// `core::fmt` the head cost httpd about 1 600 instructions per request of its 11 000
    /// (callgrind, `apps/httpd/examples/conn_cost.rs`).
    #[inline]
    fn head(&self, keep_alive: bool, mut put: impl FnMut(&[u8])) {
        let (code, reason) = self.status.line();
        let mut digits = [0u8; 20];
        put(b"HTTP/1.1 ");
        put(decimal(code.into(), &mut digits));
        put(b" ");
        put(reason.as_bytes());
        put(b"\r\nServer: corenet\r\nContent-Type: ");
        put(self.content_type.as_bytes());
        put(b"\r\nContent-Length: ");
        put(decimal(self.body.len() as u64, &mut digits));
        put(b"\r\n");
        if let Some((k, v)) = self.extra {
            put(k.as_bytes());
            put(b": ");
            put(v.as_bytes());
            put(b"\r\n");
        }
        put(if keep_alive { KEEP_ALIVE } else { CLOSE });
    }
}

/// `n` in decimal, written at the end of `buf` (20 digits hold any `u64`). By hand rather
/// than through `core::fmt`, whose indirect calls and padding logic cost several times more
/// per number; kv's integer replies use it too.
#[inline]
pub fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[at..];
        }
    }
}

const KEEP_ALIVE: &[u8] = b"Connection: keep-alive\r\n\r\n";
const CLOSE: &[u8] = b"Connection: close\r\n\r\n";

/// `write!` into a byte vector.
pub fn push_fmt(out: &mut Vec<u8>, args: core::fmt::Arguments<'_>) {
    struct W<'a>(&'a mut Vec<u8>);
    impl core::fmt::Write for W<'_> {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            self.0.extend_from_slice(s.as_bytes());
            Ok(())
        }
    }
    let _ = core::fmt::write(&mut W(out), args);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_head_is_what_it_was_with_core_fmt() {
        let mut r = Response::new(Status::Ok, "text/html", b"<h1>hi</h1>");
        r.extra = Some(("Allow", "GET, HEAD"));
        let mut v = Vec::new();
        r.write(&mut v, false, true);
        assert_eq!(
            v,
            b"HTTP/1.1 200 OK\r\nServer: corenet\r\nContent-Type: text/html\r\nContent-Length: 11\r\n\
              Allow: GET, HEAD\r\nConnection: keep-alive\r\n\r\n<h1>hi</h1>"
        );
        for n in [0u64, 7, 10, 99, 100, 65_535, 1 << 32, u64::MAX] {
            let mut expected = Vec::new();
            push_fmt(&mut expected, format_args!("{n}"));
            assert_eq!(decimal(n, &mut [0; 20]), &expected[..], "{n}");
        }
        let big = Response::repeat(Status::Ok, "application/octet-stream", b"x", 104_857_600);
        let mut v = Vec::new();
        big.write(&mut v, false, false);
        assert!(v.ends_with(b"Content-Length: 104857600\r\nConnection: close\r\n\r\n"));
    }

    #[test]
    fn encoded_len_matches_write() {
        for r in [
            Response::new(Status::Ok, "text/html", b"<h1>hi</h1>"),
            Response::error(Status::MethodNotAllowed),
            Response::error(Status::Unavailable),
            Response::repeat(Status::Ok, "text/plain", b"ab", 5),
        ] {
            for (head, ka) in [(false, false), (false, true), (true, true)] {
                let mut v = Vec::new();
                r.write(&mut v, head, ka);
                assert_eq!(r.encoded_len(head, ka), v.len());
            }
        }
    }
}
