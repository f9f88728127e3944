//! The kv appliance's RESP2 parser and its sessions, on one to three cores with the rings
//! between them: no panic, parsed requests lie inside the input and within the limits, the
//! buffer pool is charged exactly what a session holds, unsent output stays bounded, no
//! session waits for good for a reply from another core, and the replies do not depend on
//! where TCP cut the stream or on how many cores the keys are spread over.
//!
//! Input: a byte of limits (request size, output bound), a byte picking the cut size and
//! the core count, then the client's byte stream.

use corenet_kv::links::rings;
use corenet_kv::resp::{self, Parse};
use corenet_kv::session::Limits;
use corenet_kv::sim::Machine;

/// Commands whose replies name the core or a random choice: with them in the stream, the
/// replies legitimately depend on the core count.
const CORE_SPECIFIC: [&[u8]; 6] = [b"spop", b"info", b"hello", b"client", b"config", b"command"];

fn mentions_core_specific(data: &[u8]) -> bool {
    let lower: Vec<u8> = data.iter().map(u8::to_ascii_lowercase).collect();
    CORE_SPECIFIC
        .iter()
        .any(|w| lower.windows(w.len()).any(|x| x == *w))
}

/// Every request the parser finds in `data` lies inside it, within the limits.
fn check_parse(data: &[u8], l: &resp::Limits) {
    let mut args = Vec::new();
    let mut at = 0;
    while at < data.len() {
        match resp::parse(&data[at..], l, &mut args) {
            Parse::Complete(n) => {
                assert!(n > 0 && at + n <= data.len(), "request past the input");
                assert!(args.len() <= l.max_args);
                assert!(args.iter().all(|r| r.start <= r.end && r.end <= n));
                at += n;
            }
            Parse::Partial => {
                assert!(data.len() - at < l.max_request, "partial past the bound");
                break;
            }
            Parse::Error(_) => break,
        }
    }
}

/// The harness.
pub fn run(data: &[u8]) {
    let [limits, shape, stream @ ..] = data else {
        return;
    };
    let l = Limits {
        resp: resp::Limits {
            max_request: 16 + usize::from(limits & 0x0f) * 64,
            max_args: 64,
        },
        max_out: 64 + usize::from(limits >> 4) * 256,
        max_waiting: 1 + usize::from(shape >> 4),
        ..Limits::default()
    };
    check_parse(stream, &l.resp);
    let chunk = usize::from(shape & 0x0f) + 1;
    let cores = usize::from(shape >> 6) % 3 + 1;
    let whole =
        Machine::new(1, 1 << 20, 1 << 24, &mut []).serve_one(stream, stream.len().max(1), &l);
    let mut q = rings(cores);
    let spread = Machine::new(cores, 1 << 20, 1 << 24, &mut q).serve_one(stream, chunk, &l);
    if !mentions_core_specific(stream) {
        assert!(
            whole == spread,
            "replies depend on segmentation or cores:\n{:?}\n{:?}",
            String::from_utf8_lossy(&whole),
            String::from_utf8_lossy(&spread)
        );
    }
}
