//! The HTTP/1.1 request parser and `Conn` under a client that pipelines, splits requests
//! anywhere and reads its answers slowly: no panic, parsed requests lie inside the input
//! and within the limits, and the output waiting to be sent stays bounded.
//!
//! Input: four bytes of limits (the fourth sizes the core's memory pool, so buffers that
//! cannot grow are exercised too), then operations (receive a chunk, receive N pipelined
//! GETs, the client reads K bytes, the client half-closes).
//!
//! Also: the same byte stream cut into segments anywhere is answered the same as in one
//! piece (incremental parsing does not depend on where TCP cut the stream), up to the first
//! error that closes the connection.

use arbitrary::Unstructured;
use corenet_http::request::{Parse, parse};
use corenet_http::{Conn, Limits, Pool, Request, Response, Status};

static BIG: [u8; 1024] = [b'x'; 1024];

/// The largest response `route` makes, head included (the head is under 256 bytes).
const MAX_RESPONSE: usize = BIG.len() + 256;

fn route(r: &Request<'_>) -> Response {
    match r.path() {
        "/" => Response::new(Status::Ok, "text/html", b"<h1>hi</h1>"),
        "/big" => Response::new(Status::Ok, "application/octet-stream", &BIG),
        // A streamed body (never buffered): ordering and back-pressure behind it.
        "/bytes" => Response::repeat(Status::Ok, "application/octet-stream", &BIG, 5000),
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

/// Status codes of the responses in `out`, up to and including the first that closes the
/// connection for a malformed request (which one depends on how much was buffered: a head
/// cut short may be a 400 where the whole one is a 431).
fn statuses(out: &[u8]) -> (Vec<u16>, bool) {
    let mut codes = Vec::new();
    for w in out.windows(12) {
        if &w[..9] == b"HTTP/1.1 " {
            let code = w[9..12]
                .iter()
                .fold(0u16, |a, &d| a * 10 + u16::from(d.wrapping_sub(b'0')));
            codes.push(code);
            if matches!(code, 400 | 413 | 431 | 501 | 505) {
                return (codes, true);
            }
        }
    }
    (codes, false)
}

/// Feeds `stream` cut at `cuts` to a fresh connection whose client reads everything at
/// once, giving it only what the connection has room for (as TCP would hold the rest);
/// returns everything answered.
fn answer(stream: &[u8], cuts: &[usize], l: &Limits) -> Vec<u8> {
    let mut c = Conn::new();
    let mut pool = Pool::new(usize::MAX);
    let mut route = route;
    let mut out = Vec::new();
    let mut at = 0;
    let mut ends = cuts.iter().copied().chain([stream.len()]);
    let mut end = ends.next().unwrap_or(stream.len());
    // Each round takes bytes, answers a buffered request, or ends.
    for _ in 0..2 * stream.len() + cuts.len() + 4 {
        while at >= end && end < stream.len() {
            end = ends.next().unwrap_or(stream.len()).max(end);
        }
        let room = c.input_room(l);
        let n = (end - at).min(room);
        // An unbounded pool: a buffer cannot fail to grow here.
        let taken = c
            .on_input(&stream[at..at + n], l, &mut pool, &mut route)
            .expect("unbounded pool");
        assert!(taken <= n, "took {taken} of {n} bytes");
        at += taken;
        let produced = c.output().len();
        out.extend_from_slice(c.output());
        c.consumed(produced);
        if c.done() || (taken == 0 && produced == 0 && (n == 0 || at >= stream.len())) {
            break;
        }
    }
    out
}

/// The segmentation check: `data` is the stream, its first byte picks the cuts.
fn check_segmentation(data: &[u8], l: &Limits) {
    let Some((&step, stream)) = data.split_first() else {
        return;
    };
    let step = usize::from(step % 16) + 1;
    let cuts: Vec<usize> = (step..stream.len()).step_by(step).collect();
    let (whole, whole_err) = statuses(&answer(stream, &[], l));
    let (cut, cut_err) = statuses(&answer(stream, &cuts, l));
    // The same answers, but for the status of a closing error, which may differ.
    assert_eq!(
        whole_err, cut_err,
        "answers depend on segmentation: {whole:?} vs {cut:?}"
    );
    let keep = whole.len().saturating_sub(usize::from(whole_err));
    assert!(
        whole.len() == cut.len() && whole[..keep] == cut[..keep],
        "answers depend on segmentation: {whole:?} vs {cut:?}"
    );
}

/// The harness.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let (Ok(h), Ok(b), Ok(o), Ok(p)) = (
        u.arbitrary::<u8>(),
        u.arbitrary::<u8>(),
        u.arbitrary::<u8>(),
        u.arbitrary::<u8>(),
    ) else {
        return;
    };
    #[allow(
        clippy::needless_update,
        reason = "limits added to Limits later keep their defaults"
    )]
    let l = Limits {
        max_head: 16 + usize::from(h) * 4,
        max_body: usize::from(b) * 4,
        max_out: 64 + usize::from(o) * 16,
        ..Limits::default()
    };
    check_segmentation(u.peek_bytes(u.len()).unwrap_or(&[]), &l);
    // From a pool too small for one request up to one that never refuses.
    let mut pool = Pool::new(if p == u8::MAX {
        usize::MAX
    } else {
        usize::from(p) * 256
    });
    let mut c = Conn::new();
    let mut route = route;
    // An error sheds the connection, as the appliance does: released, a fresh one follows.
    let shed = |c: &mut Conn, pool: &mut Pool| {
        c.release(pool);
        assert_eq!(
            pool.used(),
            0,
            "a released connection still holds pool bytes"
        );
        *c = Conn::new();
    };
    while !u.is_empty() {
        let Ok(op) = u.arbitrary::<u8>() else { break };
        match op % 5 {
            0 => {
                let n = usize::from(u.arbitrary::<u8>().unwrap_or(0)) + 1;
                let chunk = u.bytes(n.min(u.len())).unwrap_or(&[]);
                check_parse(chunk, &l);
                // Like the appliance: never more than the connection has room for.
                let room = c.input_room(&l);
                let given = chunk.len().min(room);
                match c.on_input(&chunk[..given], &l, &mut pool, &mut route) {
                    Ok(taken) => assert!(taken <= given),
                    Err(_) => shed(&mut c, &mut pool),
                }
            }
            1 => {
                let n = usize::from(u.arbitrary::<u8>().unwrap_or(0));
                let path =
                    ["/", "/big", "/bytes"][usize::from(u.arbitrary::<u8>().unwrap_or(0) % 3)];
                let one = format!("GET {path} HTTP/1.1\r\n\r\n");
                let all = one.repeat(n);
                let room = c.input_room(&l);
                let given = all.len().min(room);
                match c.on_input(&all.as_bytes()[..given], &l, &mut pool, &mut route) {
                    Ok(taken) => assert!(taken <= given),
                    Err(_) => shed(&mut c, &mut pool),
                }
            }
            2 => {
                // The client takes up to k bytes of what `output` offers (as `send` would).
                let pending = c.output().len();
                let k = usize::from(u.arbitrary::<u16>().unwrap_or(0)).min(pending);
                c.consumed(k);
                if k < pending {
                    assert_eq!(c.output().len(), pending - k);
                }
            }
            3 => {
                c.trim(&l, &mut pool);
                if c.pump(&l, &mut pool, &mut route).is_err() {
                    shed(&mut c, &mut pool);
                }
            }
            _ => c.peer_closed(),
        }
        // Every buffer byte is charged to the pool, and the buffers stay within the bound
        // the memory plan sizes connection limits with.
        assert_eq!(
            pool.used(),
            c.memory(),
            "pool charge differs from the buffers"
        );
        assert!(
            c.memory() <= l.max_memory(MAX_RESPONSE),
            "{} bytes of buffers (bound {})",
            c.memory(),
            l.max_memory(MAX_RESPONSE)
        );
        // Output waiting for the client is bounded by the limit plus one response.
        assert!(
            c.output().len() <= l.max_out + MAX_RESPONSE,
            "{} bytes of output pending (limit {})",
            c.output().len(),
            l.max_out
        );
    }
}
