//! `Conn` with streamed bodies ([`Body::Repeat`]): bytes, order, back-pressure, no buffering.

use super::*;
use std::vec::Vec as StdVec;

const PATTERN: &[u8] = b"0123456789";

fn router(r: &Request<'_>) -> Response {
    match r.path() {
        "/stream" => Response::repeat(Status::Ok, "text/plain", PATTERN, 100_003),
        "/empty" => Response::repeat(Status::Ok, "text/plain", b"", 7),
        _ => Response::new(Status::Ok, "text/plain", b"small"),
    }
}

const L: Limits = Limits {
    max_head: 256,
    max_body: 32,
    max_out: 4096,
    keep_out: 512,
};

/// Drains the connection the way httpd does, taking at most `chunk` bytes per send; returns
/// everything sent and the most buffer memory the connection held meanwhile.
fn drain(c: &mut Conn, p: &mut Pool, chunk: usize) -> (StdVec<u8>, usize) {
    let (mut all, mut peak) = (StdVec::new(), c.memory());
    for _ in 0..1_000_000 {
        c.pump(&L, p, &mut router).unwrap();
        let out = c.output();
        if out.is_empty() {
            break;
        }
        let n = out.len().min(chunk);
        all.extend_from_slice(&out[..n]);
        c.consumed(n);
        peak = peak.max(c.memory());
    }
    (all, peak)
}

fn split_head(b: &[u8]) -> (&str, &[u8]) {
    let end = b.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    (core::str::from_utf8(&b[..end]).unwrap(), &b[end..])
}

#[test]
fn a_streamed_body_is_the_pattern_repeated_and_never_buffered() {
    let (mut c, mut p) = (Conn::new(), Pool::new(1 << 20));
    c.on_input(b"GET /stream HTTP/1.1\r\n\r\n", &L, &mut p, &mut router)
        .unwrap();
    let (sent, peak) = drain(&mut c, &mut p, 1460);
    let (head, body) = split_head(&sent);
    assert!(head.contains("Content-Length: 100003\r\n"), "{head}");
    assert_eq!(body.len(), 100_003);
    assert!(body.iter().enumerate().all(|(i, &b)| b == PATTERN[i % 10]));
    assert!(peak <= 1024, "{peak} bytes buffered for a 100 kB body");
    assert!(!c.done(), "keep-alive");
}

#[test]
fn a_request_pipelined_behind_a_stream_waits_for_it() {
    let (mut c, mut p) = (Conn::new(), Pool::new(1 << 20));
    let two = b"GET /stream HTTP/1.1\r\n\r\nGET /x HTTP/1.1\r\nConnection: close\r\n\r\n";
    let taken = c.on_input(two, &L, &mut p, &mut router).unwrap();
    // The second request is left unread (in the TCP window) while the body streams.
    assert!(taken < two.len());
    assert_eq!(c.input_room(&L), 0, "no input read during a stream");
    let (mut sent, _) = drain(&mut c, &mut p, 7);
    c.on_input(&two[taken..], &L, &mut p, &mut router).unwrap();
    sent.extend(drain(&mut c, &mut p, 4096).0);
    let (_, rest) = split_head(&sent);
    let (head2, body2) = split_head(&rest[100_003..]);
    assert!(head2.starts_with("HTTP/1.1 200 OK"), "{head2}");
    assert_eq!(body2, b"small");
    assert!(c.done(), "Connection: close after the second answer");
}

#[test]
fn head_and_empty_patterns_stream_nothing() {
    let (mut c, mut p) = (Conn::new(), Pool::new(1 << 20));
    c.on_input(
        b"HEAD /stream HTTP/1.1\r\n\r\nGET /empty HTTP/1.1\r\n\r\n",
        &L,
        &mut p,
        &mut router,
    )
    .unwrap();
    let (sent, _) = drain(&mut c, &mut p, 4096);
    let text = core::str::from_utf8(&sent).unwrap();
    assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 2);
    assert!(text.contains("Content-Length: 100003\r\n"));
    assert!(text.contains("Content-Length: 0\r\n"));
    assert!(text.ends_with("\r\n\r\n"), "no body bytes: {text:?}");
}

#[test]
fn a_stream_cut_by_a_peer_reset_releases_everything() {
    let (mut c, mut p) = (Conn::new(), Pool::new(1 << 20));
    c.on_input(b"GET /stream HTTP/1.1\r\n\r\n", &L, &mut p, &mut router)
        .unwrap();
    let n = c.output().len();
    c.consumed(n);
    assert!(!c.output().is_empty(), "streaming");
    c.release(&mut p);
    assert!(c.output().is_empty());
    assert_eq!(p.used(), 0);
}
