//! Callgrind benchmark: `CONNS` connections through two proxy cores on the host test bed,
//! each carrying `LEN` bytes up and the same back, with half-close and clean close.
//!
//! ```text
//! cargo build --release -p proxy --features testbed --example relay
//! valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.relay \
//!     --toggle-collect='*pipe::relay*' target/release/examples/relay
//! ```
//!
//! With `--toggle-collect='*pipe::relay*'` the count is the proxy's copy loop (between the
//! sockets, not the TCP stacks); divide by the bytes relayed.

use corenet_proxy::pipe::Outcome;
use corenet_proxy::testbed::World;
use smoltcp::socket::tcp::State;

const CONNS: usize = 32;
const LEN: usize = 64 * 1024;

fn main() {
    let mut w = World::new();
    let backends: Vec<_> = (0..CONNS).map(|_| w.backend_listener()).collect();
    let clients: Vec<_> = (0..CONNS).map(|i| w.client(40000 + i as u16 * 3)).collect();
    let data: Vec<u8> = (0..LEN).map(|i| (i * 7) as u8).collect();
    let mut sent = vec![0usize; CONNS];
    let mut got_back = vec![0usize; CONNS];
    let mut at_backend = vec![Vec::new(); CONNS];
    let mut echoed = vec![0usize; CONNS];
    let mut buf = vec![0u8; 16 * 1024];
    for _ in 0..200_000 {
        w.step();
        for i in 0..CONNS {
            let c = w.sock(clients[i]);
            if c.may_send() && sent[i] < LEN {
                sent[i] += c.send_slice(&data[sent[i]..]).unwrap_or(0);
                if sent[i] == LEN {
                    c.close();
                }
            }
            while let Ok(n @ 1..) = c.recv_slice(&mut buf) {
                got_back[i] += n;
            }
            let b = w.sock(backends[i]);
            while let Ok(n @ 1..) = b.recv_slice(&mut buf) {
                at_backend[i].extend_from_slice(&buf[..n]);
            }
            if b.may_send() && echoed[i] < at_backend[i].len() {
                echoed[i] += b.send_slice(&at_backend[i][echoed[i]..]).unwrap_or(0);
            }
            if b.state() == State::CloseWait && !b.may_recv() && echoed[i] == LEN {
                b.close();
            }
        }
        if w.outcomes.len() == CONNS && got_back.iter().all(|&n| n == LEN) {
            break;
        }
    }
    let done = w.outcomes.iter().filter(|&&o| o == Outcome::Done).count();
    assert_eq!(done, CONNS, "outcomes {:?}", w.outcomes);
    assert_eq!(w.wrong_core(), 0);
    println!(
        "relayed {} connections, {} bytes each way each, wrong_core 0",
        CONNS, LEN
    );
}
