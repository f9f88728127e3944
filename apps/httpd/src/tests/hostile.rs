//! The server against clients that split, trickle, stall, flood and churn: clocks, eviction
//! and pool reclaim decisions, and pool accounting over random lifecycles.

use alloc::vec::Vec;
use corenet::raw::net::stack::TcpConn;
use corenet_http::settings::Settings;
use corenet_http::timers::SECOND;

use super::{BIG, Bed, OUR_IP, ok, route};

#[test]
fn a_pipelining_client_whose_segments_split_requests_is_not_timed_out() {
    // Every segment completes the request before it and starts the next one, so the
    // connection ends each pass holding a partial request; requests complete every 2 s.
    let mut b = Bed::new(64, 1 << 20, Settings::default());
    let c = b.connect(80);
    b.client.send(c, b"GET / HTTP/1.1\r\n\r\nGET / HT").unwrap();
    let mut answered = 0;
    for _ in 0..15 {
        b.run(1, 10);
        answered += b.read(c).0.windows(4).filter(|w| w == b" 200").count();
        b.run(2000, 1);
        b.client.send(c, b"TP/1.1\r\n\r\nGET / HT").unwrap();
    }
    b.run(1, 10);
    let (resp, closed) = b.read(c);
    answered += resp.windows(4).filter(|w| w == b" 200").count();
    assert_eq!(b.srv.stats.header_timeouts, 0, "{:?}", b.srv.stats);
    assert!(!closed, "a working client keeps its connection");
    assert_eq!(answered, 16);
}

/// Seeded random clients over many connection lifecycles: valid, pipelined, split, oversized
/// and garbage requests and echo data; peers that read, read slowly or never, half-close,
/// close, or reset mid-request; pools small enough to shed and answer 503; a connection limit
/// small enough to evict; clock jumps past every deadline. After every pass the pool is
/// charged exactly what the connections hold, and once every client is gone it is back at 0.
#[test]
fn random_lifecycles_return_every_pool_byte() {
    let pieces: [&[u8]; 9] = [
        b"GET / HTTP/1.1\r\n\r\n",
        b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n",
        b"HEAD /nope HTTP/1.1\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
        b"POST / HTTP/1.1\r\nContent-Length: 3000\r\n\r\n",
        b"GET / HTTP/1.0\r\n\r\n",
        b"GET / HTTP/1.1\r\nX: ",
        b"\r\n\r\n",
        b"\xff\x00garbage",
    ];
    let mut rng = corenet::testing::Rng(0x2545_f491_4f6c_dd1d);
    let mut next = move |n: u64| rng.below(n);
    let mut lifecycles = 0;
    // Shed, 503, evicted, header / idle / send timeouts: every way out was taken.
    let mut seen = [0u64; 6];
    for round in 0..6u64 {
        let pool = [6 * 1024, 24 * 1024, 1 << 20][round as usize % 3];
        let mut s = Settings::default();
        s.timeouts.send_ns = 20 * SECOND;
        let mut b = Bed::new(20, pool, s);
        let mut live: Vec<(TcpConn, bool)> = Vec::new();
        for _ in 0..600 {
            match next(10) {
                0..=1 if live.len() < 40 => {
                    if let Ok(c) = b
                        .client
                        .connect((OUR_IP, if next(4) == 0 { 7 } else { 80 }))
                    {
                        live.push((c, next(3) != 0));
                        lifecycles += 1;
                    }
                }
                2..=5 if !live.is_empty() => {
                    let (c, _) = live[next(live.len() as u64) as usize];
                    let mut wire = Vec::new();
                    for _ in 0..1 + next(12) {
                        wire.extend_from_slice(pieces[next(pieces.len() as u64) as usize]);
                    }
                    if next(5) == 0 {
                        wire.extend_from_slice(&BIG[..next(6000) as usize]);
                    }
                    let _ = b.client.send(c, &wire);
                }
                6 if !live.is_empty() => {
                    let (c, _) = live.swap_remove(next(live.len() as u64) as usize);
                    let _ = match next(3) {
                        0 => b.client.abort(c),
                        _ => b.client.close(c),
                    };
                }
                _ => {}
            }
            let ms =
                [1, 1, 1, 1, 10, 10, 300, 1500][next(8) as usize] + 25_000 * (next(60) == 0) as u64;
            b.step(ms);
            // Readers read; the others leave everything in their window.
            for &(c, reads) in &live {
                if reads {
                    let _ = b.read(c);
                }
            }
            let (held, charged) = b.srv.held_and_charged();
            assert_eq!(held, charged, "round {round}: {:?}", b.srv.stats);
            assert!(charged <= pool, "round {round}");
        }
        let st = b.srv.stats;
        for (sum, n) in seen.iter_mut().zip([
            st.shed,
            st.unavailable,
            st.evictions + st.evictions_slow,
            st.header_timeouts,
            st.idle_timeouts,
            st.send_timeouts,
        ]) {
            *sum += n;
        }
        for (c, _) in live.drain(..) {
            let _ = b.client.abort(c);
        }
        b.run(1, 20);
        b.run(30_000, 4);
        assert_eq!(
            (b.srv.http.len(), b.srv.echo.len(), b.srv.stats.pool_used),
            (0, 0, 0),
            "round {round}: {:?}",
            b.srv.stats
        );
        assert_eq!(b.srv.held_and_charged(), (0, 0));
    }
    assert!(lifecycles > 400, "{lifecycles}");
    assert!(seen.iter().all(|&n| n > 0), "{seen:?}");
}

#[test]
fn half_open_connections_do_not_make_idle_clients_evicted() {
    // 20 slots; 5 keep-alive clients idle, then a SYN flood whose SYN-ACKs go nowhere holds
    // 15 half-open connections. The stack frees the oldest half-open one for each new SYN
    // at the limit, so those slots are not taken: no idle client needs to make room.
    let mut b = Bed::new(20, 1 << 20, Settings::default());
    let idle: Vec<TcpConn> = (0..5)
        .map(|_| {
            let c = b.connect(80);
            assert!(ok(&b.get(c, "/").0));
            c
        })
        .collect();
    b.run(1000, 2);
    let flood: Vec<TcpConn> = (0..15)
        .map(|_| b.client.connect((OUR_IP, 80)).unwrap())
        .collect();
    for _ in 0..20 {
        b.now_us += 50_000;
        b.client.poll(b.now_us);
        while let Some(f) = b.cnic.take_sent() {
            b.snic.deliver(f);
        }
        b.server.poll(b.now_us);
        b.srv
            .poll(&mut b.server, b.now_us * 1000, 1 << 40, &mut route);
        b.server.poll(b.now_us);
        // The spoofed sources never answer.
        while b.snic.take_sent().is_some() {}
    }
    assert!(b.server.half_open() >= 10, "{}", b.server.half_open());
    assert_eq!(b.srv.stats.evictions, 0, "{:?}", b.srv.stats);
    for c in flood {
        let _ = b.client.abort(c);
    }
    for &c in &idle {
        assert!(ok(&b.get(c, "/").0), "idle client still served");
    }
}

#[test]
fn requests_left_incomplete_cannot_hold_the_pool_against_new_clients() {
    // Nine clients each send a head announcing a 64 KiB body and most of the body, then
    // nothing: together they hold the whole pool, far below the connection limit.
    let most = corenet_http::Limits::default().max_input();
    let pool = 8 * most + 3000;
    let mut b = Bed::new(64, pool, Settings::default());
    let hogs: Vec<TcpConn> = (0..9).map(|_| b.connect(80)).collect();
    for &c in &hogs {
        b.client
            .send(c, b"POST / HTTP/1.1\r\nContent-Length: 65536\r\n\r\n")
            .unwrap();
    }
    for _ in 0..20 {
        for &c in &hogs {
            let _ = b.client.send(c, &BIG[..3000]);
        }
        b.run(1, 5);
    }
    b.run(100, 12);
    assert!(
        b.srv.stats.pool_used == 8 * most as u64,
        "the hogs hold the pool: {:?}",
        b.srv.stats
    );
    for i in 0..3 {
        let c = b.connect(80);
        let (resp, _) = b.get(c, "/");
        assert!(ok(&resp), "new client {i} served: {:?}", b.srv.stats);
    }
    assert_eq!(b.srv.stats.unavailable, 0);
    assert!(b.srv.stats.evictions_slow >= 1, "{:?}", b.srv.stats);
}

#[test]
fn peers_that_stopped_reading_cannot_hold_every_slot() {
    // 20 clients of 20 slots pipeline requests for a big page and stop reading: their
    // responses stall in the TCP window. (Taking a byte now and then would keep each of them
    // under the send timeout for good.) A new client must still find a slot.
    let mut b = Bed::new(20, 1 << 20, Settings::default());
    let reqs = "GET /big HTTP/1.1\r\n\r\n".repeat(20);
    let stalled: Vec<TcpConn> = (0..20)
        .map(|_| {
            let c = b.connect(80);
            b.client.send(c, reqs.as_bytes()).unwrap();
            c
        })
        .collect();
    b.run(100, 30);
    for i in 0..3 {
        let c = b.connect(80);
        assert!(
            ok(&b.get(c, "/").0),
            "new client {i} served: {:?}",
            b.srv.stats
        );
        let _ = b.client.close(c);
        b.run(10, 2);
    }
    assert_eq!(b.server.counters().refused.get(), 0);
    assert!(b.read(stalled[0]).1, "the one stalled longest went first");
}

#[test]
fn peers_that_stopped_reading_cannot_hold_the_pool_against_new_clients() {
    let reqs = "GET /big HTTP/1.1\r\n\r\n".repeat(20);
    // What one stalled reader holds: 8 of them, and 3000 bytes more, make the pool.
    let mut one = Bed::new(64, 1 << 20, Settings::default());
    let c = one.connect(80);
    one.client.send(c, reqs.as_bytes()).unwrap();
    one.run(100, 30);
    let held = one.srv.stats.pool_used as usize;
    let mut b = Bed::new(64, 8 * held + 3000, Settings::default());
    for _ in 0..8 {
        let c = b.connect(80);
        b.client.send(c, reqs.as_bytes()).unwrap();
        b.run(1, 5);
    }
    b.run(100, 30);
    assert!(
        b.srv.pool_available() < 4096,
        "the stalled readers hold the pool: {:?}",
        b.srv.stats
    );
    let c = b.connect(80);
    assert!(ok(&b.get(c, "/").0), "new client served: {:?}", b.srv.stats);
    assert_eq!(b.srv.stats.unavailable, 0);
}

#[test]
fn echo_peers_that_stopped_reading_cannot_hold_the_pool_against_http_clients() {
    let max = corenet_http::echo::MAX_PENDING;
    let mut b = Bed::new(64, 6 * max + 3000, Settings::default());
    for _ in 0..6 {
        let c = b.connect(7);
        for _ in 0..8 {
            let _ = b.client.send(c, &BIG[..4000]);
            b.run(1, 3);
        }
    }
    b.run(100, 30);
    assert!(b.srv.pool_available() < 4096, "{:?}", b.srv.stats);
    let c = b.connect(80);
    assert!(ok(&b.get(c, "/").0), "new client served: {:?}", b.srv.stats);
    assert_eq!(b.srv.stats.unavailable, 0);
}

#[test]
fn a_body_trickled_after_the_head_is_reset_at_the_header_timeout() {
    let mut b = Bed::new(64, 1 << 20, Settings::default());
    let c = b.connect(80);
    b.client
        .send(c, b"POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n")
        .unwrap();
    b.run(1, 5);
    // A body byte every 2 s: the request never completes within 10 s.
    for _ in 0..4 {
        b.run(2000, 1);
        b.client.send(c, b"x").unwrap();
    }
    assert_eq!(b.srv.stats.header_timeouts, 0, "not before 10 s");
    b.run(1000, 3);
    assert_eq!(b.srv.stats.header_timeouts, 1);
    assert!(b.read(c).1, "reset");
    assert_eq!((b.srv.http.len(), b.srv.stats.pool_used), (0, 0));
}
