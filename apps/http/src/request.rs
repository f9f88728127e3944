//! Incremental HTTP/1.1 request parsing (RFC 9112, sections 2-6).

/// Request methods corenet's servers distinguish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET.
    Get,
    /// HEAD.
    Head,
    /// Any other token (answered 405 by the router).
    Other,
}

/// A parsed request head (borrowing the input buffer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request<'a> {
    /// Method.
    pub method: Method,
    /// The method as sent.
    pub method_raw: &'a str,
    /// Request target (origin form, e.g. `/metrics?x=1`).
    pub target: &'a str,
    /// HTTP/1.1 (true) or HTTP/1.0 (false).
    pub http11: bool,
    /// The client asked to keep the connection open (`Connection` header + version default).
    pub keep_alive: bool,
    /// Body length from `Content-Length` (0 without).
    pub body_len: usize,
    /// Bytes of head + body: where the next pipelined request starts.
    pub total_len: usize,
}

impl Request<'_> {
    /// The target's path (without query).
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or(self.target)
    }
}

/// Why a request cannot be served; each maps to the status to answer before closing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// Malformed request line or header (400).
    BadRequest,
    /// The head is larger than the limit (431).
    HeadTooLarge,
    /// `Content-Length` over the body limit (413).
    BodyTooLarge,
    /// `Transfer-Encoding` (chunked bodies) is not supported (501).
    NotImplemented,
    /// Not HTTP/1.0 or HTTP/1.1 (505).
    BadVersion,
}

impl core::fmt::Display for ParseError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::BadRequest => "malformed request line or header",
            Self::HeadTooLarge => "request head over the limit",
            Self::BodyTooLarge => "Content-Length over the body limit",
            Self::NotImplemented => "Transfer-Encoding is not supported",
            Self::BadVersion => "not HTTP/1.0 or HTTP/1.1",
        })
    }
}

impl core::error::Error for ParseError {}

/// Outcome of [`parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parse<'a> {
    /// A whole request is buffered.
    Complete(Request<'a>),
    /// More bytes are needed.
    Partial,
    /// Answer with an error and close.
    Error(ParseError),
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'|'
                        | b'~'
                )
        })
}

/// Where the head ends: just past the first CRLF CRLF.
fn find_head_end(buf: &[u8]) -> Option<usize> {
    // The four bytes ending at `i` must all be CR or LF: a byte that is neither rules out the
    // four ends that would include it, so most of a head is stepped over four bytes at a time.
    let mut i = 3;
    while i < buf.len() {
        match buf[i] {
            b'\n' if buf[i - 3..i] == *b"\r\n\r" => return Some(i + 1),
            b'\n' | b'\r' => i += 1,
            _ => i += 4,
        }
    }
    None
}

/// `s.split("\r\n")`, without the generic string searcher (about a tenth of httpd's
/// instructions per request went to it and to `split(' ')`).
struct CrlfLines<'a> {
    rest: Option<&'a str>,
}

impl<'a> Iterator for CrlfLines<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let rest = self.rest?;
        let b = rest.as_bytes();
        let mut i = 0;
        while i + 1 < b.len() {
            if b[i] == b'\r' && b[i + 1] == b'\n' {
                // CR is ASCII, so `i` and `i + 2` are character boundaries.
                self.rest = rest.get(i + 2..);
                return rest.get(..i);
            }
            i += 1;
        }
        self.rest = None;
        Some(rest)
    }
}

/// `s` split at its first `sep` (an ASCII byte, so both sides are valid strings).
fn split_at_byte(s: &str, sep: u8) -> Option<(&str, &str)> {
    let at = s.bytes().position(|b| b == sep)?;
    Some((s.get(..at)?, s.get(at + 1..)?))
}

/// `s` without leading and trailing spaces and tabs.
fn trim_ows(s: &str) -> &str {
    let b = s.as_bytes();
    let start = b
        .iter()
        .position(|&c| c != b' ' && c != b'\t')
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|&c| c != b' ' && c != b'\t')
        .map_or(start, |e| e + 1);
    s.get(start..end).unwrap_or("")
}

/// Parses the request at the start of `buf` with the given limits on head and body size.
pub fn parse(buf: &[u8], max_head: usize, max_body: usize) -> Parse<'_> {
    parse_needing(buf, max_head, max_body).0
}

/// [`parse`], and with [`Parse::Partial`] the length `buf` must reach before parsing it again
/// can tell more: its head and the body it announces once the head is complete, else one byte
/// more. A body arriving in small pieces is then not parsed again for every piece.
pub fn parse_needing(buf: &[u8], max_head: usize, max_body: usize) -> (Parse<'_>, usize) {
    let mut need = buf.len() + 1;
    let p = parse_head(buf, max_head, max_body, &mut need);
    (p, need)
}

#[cfg(test)]
std::thread_local! {
    /// Heads parsed on this thread (tests count the work a trickling client causes).
    pub(crate) static HEADS_PARSED: core::cell::Cell<usize> = const { core::cell::Cell::new(0) };
}

fn parse_head<'a>(buf: &'a [u8], max_head: usize, max_body: usize, need: &mut usize) -> Parse<'a> {
    // A head of up to `max_head` bytes plus its blank line.
    let window = max_head.saturating_add(4);
    let Some(head_len) = find_head_end(&buf[..buf.len().min(window)]) else {
        // Tolerate bare-LF-free garbage only up to the limit: once the window is full and
        // holds no end, the head cannot end in time (before, from `max_head + 1` bytes on,
        // though a head ending within the window is accepted when it arrives whole; found
        // by the `http` fuzz target).
        return if buf.len() >= window {
            Parse::Error(ParseError::HeadTooLarge)
        } else if buf.len() >= 2
            && core::str::from_utf8(buf).is_err_and(|e| e.error_len().is_some())
        {
            // Bytes that can never become a UTF-8 head (binary, TLS) are refused at once; a
            // partial head that is valid UTF-8 so far waits, as the whole one would be
            // accepted (field values may carry UTF-8): the answer must not depend on where TCP
            // cut the stream (found by the `http` fuzz target).
            Parse::Error(ParseError::BadRequest)
        } else {
            Parse::Partial
        };
    };
    #[cfg(test)]
    HEADS_PARSED.with(|n| n.set(n.get() + 1));
    let Ok(head) = core::str::from_utf8(&buf[..head_len - 4]) else {
        return Parse::Error(ParseError::BadRequest);
    };
    let mut lines = CrlfLines { rest: Some(head) };
    let line = lines.next().unwrap_or("");
    // Exactly three parts separated by single spaces.
    let Some((method_raw, rest)) = split_at_byte(line, b' ') else {
        return Parse::Error(ParseError::BadRequest);
    };
    let Some((target, version)) = split_at_byte(rest, b' ') else {
        return Parse::Error(ParseError::BadRequest);
    };
    if version.as_bytes().contains(&b' ') {
        return Parse::Error(ParseError::BadRequest);
    }
    if !is_token(method_raw) || target.is_empty() || !target.starts_with('/') {
        return Parse::Error(ParseError::BadRequest);
    }
    if target.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Parse::Error(ParseError::BadRequest);
    }
    let http11 = match version {
        "HTTP/1.1" => true,
        "HTTP/1.0" => false,
        v if v.starts_with("HTTP/") => return Parse::Error(ParseError::BadVersion),
        _ => return Parse::Error(ParseError::BadRequest),
    };
    let method = match method_raw {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        _ => Method::Other,
    };
    let mut keep_alive = http11;
    let mut body_len: Option<usize> = None;
    for h in lines {
        let Some((name, value)) = split_at_byte(h, b':') else {
            return Parse::Error(ParseError::BadRequest);
        };
        if !is_token(name) {
            return Parse::Error(ParseError::BadRequest); // also rejects obs-fold and spaces
        }
        let value = trim_ows(value);
        if value.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
            return Parse::Error(ParseError::BadRequest); // a bare CR or LF ends lines elsewhere
        }
        if name.eq_ignore_ascii_case("content-length") {
            // 1*DIGIT only: `parse` alone would also take a leading '+'.
            let digits = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
            let (true, Ok(n)) = (digits, value.parse::<usize>()) else {
                return Parse::Error(ParseError::BadRequest);
            };
            if body_len.is_some_and(|b| b != n) {
                return Parse::Error(ParseError::BadRequest); // conflicting lengths (smuggling)
            }
            body_len = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Parse::Error(ParseError::NotImplemented);
        } else if name.eq_ignore_ascii_case("connection") {
            for opt in value.split(',').map(str::trim) {
                if opt.eq_ignore_ascii_case("close") {
                    keep_alive = false;
                } else if opt.eq_ignore_ascii_case("keep-alive") {
                    keep_alive = true;
                }
            }
        }
    }
    let body_len = body_len.unwrap_or(0);
    if body_len > max_body {
        return Parse::Error(ParseError::BodyTooLarge);
    }
    let total_len = head_len + body_len;
    if buf.len() < total_len {
        *need = total_len;
        return Parse::Partial;
    }
    Parse::Complete(Request {
        method,
        method_raw,
        target,
        http11,
        keep_alive,
        body_len,
        total_len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(b: &[u8]) -> Request<'_> {
        match parse(b, 8192, 1024) {
            Parse::Complete(r) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn simple_get_and_versions() {
        let r = req(b"GET /index.html?x=1 HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(
            (r.method, r.path(), r.http11, r.keep_alive),
            (Method::Get, "/index.html", true, true)
        );
        let r = req(b"HEAD / HTTP/1.0\r\n\r\n");
        assert_eq!((r.method, r.keep_alive), (Method::Head, false));
        let r = req(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        assert!(r.keep_alive);
        let r = req(b"GET / HTTP/1.1\r\nconnection: Close\r\n\r\n");
        assert!(!r.keep_alive);
    }

    #[test]
    fn partial_then_complete() {
        let full = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        for cut in 0..full.len() {
            assert_eq!(parse(&full[..cut], 8192, 0), Parse::Partial, "cut at {cut}");
        }
        assert!(matches!(parse(full, 8192, 0), Parse::Complete(_)));
    }

    #[test]
    fn body_is_part_of_the_request() {
        let b = b"POST /x HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET";
        let r = req(b);
        assert_eq!(
            (r.method, r.body_len, r.total_len),
            (Method::Other, 3, b.len() - 3)
        );
        assert_eq!(parse(&b[..b.len() - 4], 8192, 1024), Parse::Partial);
    }

    #[test]
    fn errors() {
        let e = |b: &[u8]| match parse(b, 64, 16) {
            Parse::Error(e) => e,
            other => panic!("{other:?}"),
        };
        assert_eq!(e(b"GET\r\n\r\n"), ParseError::BadRequest);
        assert_eq!(e(b"GET  / HTTP/1.1\r\n\r\n"), ParseError::BadRequest);
        assert_eq!(e(b"GET nothing HTTP/1.1\r\n\r\n"), ParseError::BadRequest);
        assert_eq!(e(b"GET / HTTP/2.0\r\n\r\n"), ParseError::BadVersion);
        assert_eq!(e(b"GET / FTP/1.1\r\n\r\n"), ParseError::BadRequest);
        assert_eq!(
            e(b"GET / HTTP/1.1\r\nNo colon\r\n\r\n"),
            ParseError::BadRequest
        );
        assert_eq!(
            e(b"GET / HTTP/1.1\r\n folded: x\r\n\r\n"),
            ParseError::BadRequest
        );
        assert_eq!(
            e(b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n"),
            ParseError::BadRequest
        );
        assert_eq!(
            e(b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
            ParseError::BadRequest
        );
        assert_eq!(
            e(b"POST / HTTP/1.1\r\nContent-Length: 17\r\n\r\n"),
            ParseError::BodyTooLarge
        );
        assert_eq!(
            e(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            ParseError::NotImplemented
        );
        assert_eq!(e(&[b'a'; 100]), ParseError::HeadTooLarge);
        assert_eq!(e(&[0xff, 0xfe, 0x00]), ParseError::BadRequest);
    }

    /// A head that ends within the limit's window is accepted whether it arrives whole or a
    /// byte at a time (before, a cut head was refused 431 from `max_head + 1` bytes on).
    #[test]
    fn head_at_the_limit_does_not_depend_on_segmentation() {
        let whole = b"GET / HTTP/1.1\r\nX: abcdefghij\r\n\r\n";
        let max_head = whole.len() - 2;
        assert!(matches!(parse(whole, max_head, 0), Parse::Complete(_)));
        for cut in 0..whole.len() {
            assert_eq!(
                parse(&whole[..cut], max_head, 0),
                Parse::Partial,
                "cut at {cut}"
            );
        }
        let longer = b"GET / HTTP/1.1\r\nX: abcdefghijk\r\n\r\n";
        assert_eq!(
            parse(longer, max_head - 3, 0),
            Parse::Error(ParseError::HeadTooLarge)
        );
    }

    /// A UTF-8 field value is accepted whether the head arrives whole or cut anywhere, even
    /// inside a multi-byte character (before, a cut head with a non-ASCII byte was a 400).
    #[test]
    fn utf8_field_value_does_not_depend_on_segmentation() {
        let whole = "GET / HTTP/1.1\r\nX-Name: caf\u{e9}\r\n\r\n".as_bytes();
        assert!(matches!(parse(whole, 8192, 0), Parse::Complete(_)));
        for cut in 2..whole.len() {
            assert_eq!(
                parse(&whole[..cut], 8192, 0),
                Parse::Partial,
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn content_length_is_digits_only() {
        // Rust's integer parser takes a leading '+'; RFC 9110 (8.6) does not: a front proxy
        // that rejects or reads it differently would disagree with us on where the body ends.
        for v in ["+1", "+0", " 1 1", "0x1", "1.0"] {
            let head = std::format!("POST / HTTP/1.1\r\nContent-Length: {v}\r\n\r\nx");
            assert_eq!(
                parse(head.as_bytes(), 64, 16),
                Parse::Error(ParseError::BadRequest),
                "{v:?}"
            );
        }
        assert_eq!(
            req(b"POST / HTTP/1.1\r\nContent-Length: 01\r\n\r\nx").body_len,
            1
        );
    }

    #[test]
    fn bare_cr_lf_or_nul_in_a_field_is_rejected() {
        // RFC 9110 5.5: reject (or replace). A front proxy that ends lines at a bare LF would
        // see a Content-Length here that we would not.
        for b in [
            &b"POST / HTTP/1.1\r\nX: a\nContent-Length: 5\r\n\r\nhello"[..],
            b"GET / HTTP/1.1\r\nX: a\rb\r\n\r\n",
            b"GET / HTTP/1.1\r\nX: a\0b\r\n\r\n",
        ] {
            assert_eq!(
                parse(b, 64, 16),
                Parse::Error(ParseError::BadRequest),
                "{b:?}"
            );
        }
        assert_eq!(req(b"GET / HTTP/1.1\r\nX: a\tb\r\n\r\n").body_len, 0);
    }

    /// The hand-written scanners agree with the standard library's on strings made of the
    /// bytes that matter to them (CR, LF, space, tab, colon, a multi-byte character).
    #[test]
    fn scanners_agree_with_the_standard_library() {
        // `is_token`'s byte test as it was before the `matches!`.
        let old_token_byte = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        let alphabet = [
            "\r", "\n", " ", "\t", ":", "a", "\u{e9}", "-", "\r\n", "\r\n\r\n",
        ];
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut s = std::string::String::new();
        for _ in 0..50_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            s.clear();
            for i in 0..(x % 24) {
                s.push_str(alphabet[((x >> (i * 2 % 60)) as usize + i as usize) % alphabet.len()]);
            }
            let b = s.as_bytes();
            let reference = b.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4);
            assert_eq!(find_head_end(b), reference, "{s:?}");
            let ours: std::vec::Vec<&str> = CrlfLines { rest: Some(&s) }.collect();
            let std_lines: std::vec::Vec<&str> = s.split("\r\n").collect();
            assert_eq!(ours, std_lines, "{s:?}");
            for sep in [b' ', b':'] {
                assert_eq!(split_at_byte(&s, sep), s.split_once(sep as char), "{s:?}");
            }
            assert_eq!(
                trim_ows(&s),
                s.trim_matches(|c| c == ' ' || c == '\t'),
                "{s:?}"
            );
            let old_is_token = !s.is_empty() && s.bytes().all(old_token_byte);
            assert_eq!(is_token(&s), old_is_token, "{s:?}");
        }
        for b in 0..=255u8 {
            let one = [b];
            let Ok(t) = core::str::from_utf8(&one) else {
                continue;
            };
            assert_eq!(is_token(t), old_token_byte(b), "{b}");
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut x = 0x1234_5678_9abc_def0u64;
        let mut buf = std::vec::Vec::new();
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf.clear();
            let len = (x % 96) as usize;
            for i in 0..len {
                let choices = b"GET /HTP1.0\r\n: abcContent-Length9";
                buf.push(choices[((x >> (i % 56)) as usize + i) % choices.len()]);
            }
            let _ = parse(&buf, 64, 16);
        }
    }
}
