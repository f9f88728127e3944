//! Host tests of the proxy logic on the [`crate::testbed`].

extern crate std;

use std::vec::Vec;

use corenet::testing::pattern;
use smoltcp::socket::tcp::{self, State};

use crate::pipe::Outcome;
use crate::testbed::{CAP, World};

#[test]
fn relays_both_ways_with_half_close_back_pressure_and_clean_close() {
    let mut w = World::new();
    const N: usize = 4;
    const LEN: usize = 60_000;
    let backends: Vec<_> = (0..N).map(|_| w.backend_listener()).collect();
    let clients: Vec<_> = (0..N).map(|i| w.client(40000 + i as u16 * 7)).collect();
    let requests: Vec<_> = (0..N).map(|i| pattern::bytes(i as u64, LEN)).collect();
    let mut sent = [0usize; N];
    let mut up: Vec<Vec<u8>> = std::vec![Vec::new(); N];
    let mut down: Vec<Vec<u8>> = std::vec![Vec::new(); N];
    let mut answered = [0usize; N];
    let mut client_done = [false; N];
    for ms in 0..20_000 {
        w.step();
        for i in 0..N {
            // Client: send the request, half-close, read the answer until FIN.
            let c = w.sock(clients[i]);
            if c.may_send() && sent[i] < LEN {
                sent[i] += c.send_slice(&requests[i][sent[i]..]).unwrap();
                if sent[i] == LEN {
                    c.close();
                }
            }
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = c.recv_slice(&mut buf) {
                down[i].extend_from_slice(&buf[..n]);
            }
            client_done[i] |= !c.may_recv() && matches!(c.state(), State::TimeWait | State::Closed);
            // Backend: silent for 300 ms, then a slow reader (every 5 ms) that echoes everything back, then FIN
            // after the client's FIN.
            let b = w.sock(backends[i]);
            if ms >= 300 && ms % 5 == 0 {
                while let Ok(n @ 1..) = b.recv_slice(&mut buf) {
                    up[i].extend_from_slice(&buf[..n]);
                }
            }
            if b.may_send() && answered[i] < up[i].len() {
                answered[i] += b.send_slice(&up[i][answered[i]..]).unwrap();
            }
            if !b.may_recv() && b.state() == State::CloseWait && answered[i] == LEN {
                b.close();
            }
        }
        if ms == 299 {
            // The backends have not read yet: every window along the path is full and the
            // client is held back at the sum of the buffers (the peer's 8 KiB twice, the
            // proxy stack's 4 KiB twice, the pipe's), far below the request.
            let bound = 2 * 8192 + 2 * 4096 + CAP;
            assert!(sent.iter().all(|&n| n <= bound), "{sent:?} > {bound}");
        }
        if client_done.iter().all(|&d| d) && w.outcomes.len() == N {
            break;
        }
    }
    // The peer's listeners take the SYNs in any order: compare as sets.
    let mut got = up.clone();
    got.sort();
    let mut want = requests.clone();
    want.sort();
    assert!(got == want, "backends got other bytes");
    for i in 0..N {
        let n = down[i].len();
        assert!(
            down[i] == requests[i],
            "client {i} got other bytes ({n} of {LEN})"
        );
    }
    assert!(client_done.iter().all(|&d| d), "clients saw FIN");
    assert_eq!(w.outcomes, std::vec![Outcome::Done; N]);
    assert!(w.max_buffered <= 2 * CAP, "{} buffered", w.max_buffered);
    assert_eq!(w.wrong_core(), 0);
    // Every connection's both sides were freed after the closing handshakes (the backend
    // sides, which we closed first, after smoltcp's 10 s TIME-WAIT).
    w.run(11_000);
    let live: usize = w.cores.iter().map(|c| c.connections()).sum();
    assert_eq!(live, 0, "connections left behind");
    let accepted: Vec<u64> = w
        .cores
        .iter()
        .map(|c| c.counters().accepted.get())
        .collect();
    let connected: Vec<u64> = w
        .cores
        .iter()
        .map(|c| c.counters().connected.get())
        .collect();
    assert_eq!(
        accepted, connected,
        "each backend opened on the accepting core"
    );
}

#[test]
fn a_backend_reset_aborts_the_client() {
    let mut w = World::new();
    let b = w.backend_listener();
    let c = w.client(41000);
    w.run(50);
    w.sock(c).send_slice(b"hello").unwrap();
    w.run(50);
    let mut buf = [0u8; 16];
    assert_eq!(w.sock(b).recv_slice(&mut buf), Ok(5));
    w.sock(b).abort();
    w.run(50);
    assert_eq!(w.outcomes, [Outcome::Aborted]);
    assert_eq!(w.sock(c).state(), State::Closed, "client was reset");
    w.run(50);
    assert_eq!(w.cores.iter().map(|c| c.connections()).sum::<usize>(), 0);
}

#[test]
fn a_refused_backend_closes_the_client() {
    let mut w = World::new();
    // No backend listens: the peer answers the proxy's SYN with RST.
    let c = w.client(42000);
    w.run(100);
    assert_eq!(w.outcomes, [Outcome::ConnectFailed]);
    let s = w.sock(c);
    let mut buf = [0u8; 16];
    assert_eq!(
        s.recv_slice(&mut buf),
        Err(tcp::RecvError::Finished),
        "FIN, not RST"
    );
    s.close();
    w.run(11_000); // we closed first: TIME-WAIT

    assert_eq!(w.cores.iter().map(|c| c.connections()).sum::<usize>(), 0);
}

#[test]
fn a_client_reset_aborts_the_backend() {
    let mut w = World::new();
    let b = w.backend_listener();
    let c = w.client(43000);
    w.run(50);
    w.sock(c).send_slice(b"partial request").unwrap();
    w.run(50);
    assert_eq!(w.sock(b).state(), State::Established);
    w.sock(c).abort();
    w.run(50);
    assert_eq!(w.outcomes, [Outcome::Aborted]);
    assert_eq!(w.sock(b).state(), State::Closed, "backend was reset");
    w.run(50);
    assert_eq!(w.cores.iter().map(|c| c.connections()).sum::<usize>(), 0);
}

#[test]
fn a_backend_closing_first_is_forwarded_and_the_client_may_still_send() {
    let mut w = World::new();
    let b = w.backend_listener();
    let c = w.client(44000);
    w.run(50);
    // The backend answers and closes before the client is done (an HTTP/1.0 server).
    w.sock(b).send_slice(b"banner").unwrap();
    w.sock(b).close();
    w.run(50);
    let mut buf = [0u8; 16];
    assert_eq!(w.sock(c).recv_slice(&mut buf), Ok(6));
    assert_eq!(&buf[..6], b"banner");
    assert!(
        !w.sock(c).may_recv(),
        "the backend's FIN reached the client"
    );
    // Half-closed the other way: what the client still sends reaches the backend.
    w.sock(c).send_slice(b"late").unwrap();
    w.sock(c).close();
    w.run(50);
    assert_eq!(w.sock(b).recv_slice(&mut buf), Ok(4));
    assert_eq!(&buf[..4], b"late");
    w.run(50);
    assert_eq!(w.outcomes, [Outcome::Done]);
    w.run(11_000);
    assert_eq!(w.cores.iter().map(|c| c.connections()).sum::<usize>(), 0);
}

/// A pass pumps the pipes with news, not every open one: 100 idle pipes cost the paced sweep
/// (each pipe once per 250 ms), where pumping all every pass cost 100 a step; bytes sent
/// afterwards on one of them still cross at once.
#[test]
fn idle_pipes_are_not_pumped_every_pass() {
    let mut w = World::new();
    const N: usize = 100;
    let backends: Vec<_> = (0..N).map(|_| w.backend_listener()).collect();
    let clients: Vec<_> = (0..N).map(|i| w.client(41000 + i as u16 * 3)).collect();
    w.run(300);
    assert_eq!(w.pipes.iter().map(|p| p.len()).sum::<usize>(), N);
    let pumps = |w: &World| w.pipes.iter().map(|p| p.pumps).sum::<u64>();
    let before = pumps(&w);
    w.run(100);
    let idle = pumps(&w) - before;
    assert!(idle <= 60, "{idle} pumps in 100 idle steps");
    // One client speaks: its bytes reach its backend within a few steps.
    w.sock(clients[37]).send_slice(b"hello").unwrap();
    let mut got = Vec::new();
    for _ in 0..10 {
        w.step();
        let mut buf = [0u8; 64];
        for &b in &backends {
            while let Ok(n @ 1..) = w.sock(b).recv_slice(&mut buf) {
                got.extend_from_slice(&buf[..n]);
            }
        }
    }
    assert_eq!(got, b"hello");
}
