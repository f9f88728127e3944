//! The HTTP/1.1 request parser and `Conn` under a client that pipelines, splits requests
//! anywhere and reads its answers slowly: no panic, parsed requests lie inside the input
//! and within the limits, and the output waiting to be sent stays bounded.
//!
//! Input: three bytes of limits, then operations (receive a chunk, receive N pipelined
//! GETs, the client reads K bytes, the client half-closes).

use arbitrary::Unstructured;
use corenet_http::request::{Parse, parse};
use corenet_http::{Conn, Limits, Request, Response, Status};

static BIG: [u8; 1024] = [b'x'; 1024];

/// The largest response `route` makes, head included (the head is under 256 bytes).
const MAX_RESPONSE: usize = BIG.len() + 256;

fn route(r: &Request<'_>) -> Response {
    match r.path() {
        "/" => Response::new(Status::Ok, "text/html", b"<h1>hi</h1>"),
        "/big" => Response::new(Status::Ok, "application/octet-stream", &BIG),
        _ => Response::error(Status::NotFound),
    }
}

/// Checks what [`parse`] says about `buf`.
fn check_parse(buf: &[u8], l: &Limits) {
    if let Parse::Complete(r) = parse(buf, l.max_head, l.max_body) {
        assert!(r.total_len <= buf.len(), "request past the input");
        assert!(r.body_len <= l.max_body);
        assert!(
            r.total_len - r.body_len <= l.max_head + 4,
            "head over the limit"
        );
        assert!(r.target.starts_with('/'));
    }
}

/// The harness.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let (Ok(h), Ok(b), Ok(o)) = (
        u.arbitrary::<u8>(),
        u.arbitrary::<u8>(),
        u.arbitrary::<u8>(),
    ) else {
        return;
    };
    let l = Limits {
        max_head: 16 + usize::from(h) * 4,
        max_body: usize::from(b) * 4,
        max_out: 64 + usize::from(o) * 16,
    };
    let mut c = Conn::new();
    let mut route = route;
    while !u.is_empty() {
        let Ok(op) = u.arbitrary::<u8>() else { break };
        match op % 4 {
            0 => {
                let n = usize::from(u.arbitrary::<u8>().unwrap_or(0)) + 1;
                let chunk = u.bytes(n.min(u.len())).unwrap_or(&[]);
                check_parse(chunk, &l);
                // Like the appliance: never more than the connection has room for.
                let room = c.input_room(&l);
                c.on_input(&chunk[..chunk.len().min(room)], &l, &mut route);
            }
            1 => {
                let n = usize::from(u.arbitrary::<u8>().unwrap_or(0));
                let path = if u.arbitrary::<bool>().unwrap_or(false) {
                    "/big"
                } else {
                    "/"
                };
                let one = format!("GET {path} HTTP/1.1\r\n\r\n");
                let all = one.repeat(n);
                let room = c.input_room(&l);
                c.on_input(&all.as_bytes()[..all.len().min(room)], &l, &mut route);
            }
            2 => {
                let k = usize::from(u.arbitrary::<u16>().unwrap_or(0));
                let pending = c.output().len();
                c.consumed(k);
                assert_eq!(c.output().len(), pending.saturating_sub(k));
            }
            _ => c.peer_closed(),
        }
        // Output waiting for the client is bounded by the limit plus one response. (The
        // memory behind it, sent bytes included, is the Conn's own business: a bound on its
        // capacity belongs here once Conn exposes it.)
        assert!(
            c.output().len() <= l.max_out + MAX_RESPONSE,
            "{} bytes of output pending (limit {})",
            c.output().len(),
            l.max_out
        );
    }
}
