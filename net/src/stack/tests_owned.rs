//! Owned handles: a dropped `Conn` closes its connection and frees its slot, also on an
//! error path; explicit close and abort do not close twice. And `pass`: a reply leaves in
//! the pass that made it.

extern crate std;

use smoltcp::socket::tcp;

use super::*;
use crate::sim::SimNic;
use crate::testkit::{Core, Peer, cores, cores_with, run};

/// One core listening on 80 and a peer connected to it, the connection accepted as a `Conn`.
fn accepted() -> (Vec<Core>, Peer, SocketHandle, Conn, u64) {
    let rss = RssConfig::new(1).unwrap();
    let nic = SimNic::new(rss.clone(), 1024);
    let mut cores = cores(&nic, &rss, false);
    let mut peer = Peer::new(&nic);
    Sockets::listen(&mut cores[0], 80).unwrap();
    let ph = peer.connect(40_000, 80);
    let mut now = 0;
    run(&mut cores, &mut peer, &mut now, 20);
    let conn = Sockets::accept(&mut cores[0], 80).unwrap();
    assert_eq!(cores[0].connections(), 1);
    (cores, peer, ph, conn, now)
}

/// An application step that fails half way: the handle goes out of scope on the `?`.
fn answer(s: &mut dyn Sockets, c: Conn) -> Result<Conn, SendError> {
    s.send(&c, b"partial")?;
    Err(SendError::Closed)?;
    Ok(c)
}

#[test]
fn a_handle_dropped_on_an_error_path_closes_and_frees_the_slot() {
    let (mut cores, mut peer, ph, conn, mut now) = accepted();
    assert!(answer(&mut cores[0], conn).is_err());
    run(&mut cores, &mut peer, &mut now, 20);
    let ps = peer.tcp(ph);
    let mut b = [0u8; 16];
    assert_eq!(
        ps.recv_slice(&mut b),
        Ok(7),
        "queued bytes leave before the FIN"
    );
    assert!(!ps.may_recv(), "dropping the handle sent FIN");
    ps.close();
    // TIME-WAIT (and the close timeout) pass on the virtual clock.
    for _ in 0..200 {
        run(&mut cores, &mut peer, &mut now, 1);
        now += 100_000;
    }
    assert_eq!(cores[0].connections(), 0, "the slot was freed");
}

#[test]
fn the_same_connection_with_a_raw_handle_stays_until_closed_by_hand() {
    // The contrast: a raw `TcpConn` forgotten on the same path keeps its slot.
    let (mut cores, mut peer, ph, conn, mut now) = accepted();
    let raw = conn.id();
    core::mem::forget(conn);
    run(&mut cores, &mut peer, &mut now, 20);
    let ps = peer.tcp(ph);
    assert!(ps.may_recv(), "nobody closed our side");
    ps.close();
    for _ in 0..50 {
        run(&mut cores, &mut peer, &mut now, 1);
        now += 100_000;
    }
    assert_eq!(
        cores[0].connections(),
        1,
        "CLOSE-WAIT until the application closes"
    );
    cores[0].close(raw).unwrap();
    for _ in 0..50 {
        run(&mut cores, &mut peer, &mut now, 1);
        now += 100_000;
    }
    assert_eq!(cores[0].connections(), 0);
}

#[test]
fn abort_frees_at_once_and_a_later_drop_is_not_a_second_close() {
    let (mut cores, mut peer, ph, conn, mut now) = accepted();
    Sockets::abort(&mut cores[0], conn);
    run(&mut cores, &mut peer, &mut now, 2);
    assert_eq!(cores[0].connections(), 0);
    assert_eq!(peer.tcp(ph).state(), tcp::State::Closed, "the peer got RST");
    // A new connection takes the freed slot; nothing queued from the old handle touches it.
    let ph2 = peer.connect(40_001, 80);
    run(&mut cores, &mut peer, &mut now, 20);
    let second = Sockets::accept(&mut cores[0], 80).unwrap();
    run(&mut cores, &mut peer, &mut now, 5);
    assert_eq!(Sockets::send(&mut cores[0], &second, b"hi"), Ok(2));
    run(&mut cores, &mut peer, &mut now, 5);
    assert!(peer.tcp(ph2).may_recv());
    assert_eq!(
        Sockets::state(&cores[0], &second),
        Some(ConnState::Established)
    );
}

#[test]
fn shutdown_keeps_reading_until_the_handle_goes() {
    let (mut cores, mut peer, ph, conn, mut now) = accepted();
    Sockets::shutdown(&mut cores[0], &conn).unwrap();
    run(&mut cores, &mut peer, &mut now, 10);
    let ps = peer.tcp(ph);
    assert!(!ps.may_recv(), "FIN sent");
    ps.send_slice(b"late").unwrap();
    run(&mut cores, &mut peer, &mut now, 10);
    let mut b = [0u8; 8];
    assert_eq!(Sockets::recv(&mut cores[0], &conn, &mut b), Ok(4));
    peer.tcp(ph).close();
    drop(conn);
    for _ in 0..200 {
        run(&mut cores, &mut peer, &mut now, 1);
        now += 100_000;
    }
    assert_eq!(cores[0].connections(), 0);
}

/// The peer sends `ping`; the core runs one round of `round`, which must read it and answer;
/// returns what the peer has after one more poll of its own.
fn one_round(round: impl FnOnce(&mut Core, &Conn, u64)) -> Vec<u8> {
    let (mut cores, mut peer, ph, conn, mut now) = accepted();
    run(&mut cores, &mut peer, &mut now, 20);
    peer.sockets
        .get_mut::<tcp::Socket>(ph)
        .send_slice(b"ping")
        .unwrap();
    now += 1000;
    peer.poll(now);
    now += 1000;
    round(&mut cores[0], &conn, now);
    now += 1000;
    peer.poll(now);
    let mut b = [0u8; 8];
    let n = peer
        .sockets
        .get_mut::<tcp::Socket>(ph)
        .recv_slice(&mut b)
        .unwrap();
    b[..n].to_vec()
}

fn echo(s: &mut dyn Sockets, c: &Conn) -> bool {
    let mut b = [0u8; 8];
    let n = s.recv(c, &mut b).unwrap();
    assert_eq!(s.send(c, &b[..n]), Ok(n));
    n > 0
}

#[test]
fn a_reply_leaves_in_the_pass_that_made_it() {
    let got = one_round(|core, conn, now| {
        let r = core.pass(now, |s| echo(s, conn));
        assert!(r.app_work && r.rx_frames > 0);
    });
    assert_eq!(got, b"ping");
    // The order `pass` replaces (poll, then the application) holds the reply for a pass.
    let got = one_round(|core, conn, now| {
        core.poll(now);
        echo(core, conn);
    });
    assert_eq!(got, b"", "the reply waits for the next poll");
}

#[test]
fn a_handle_closed_on_the_wrong_stack_is_still_closed_by_its_own() {
    let (mut cores, mut peer, ph, conn, mut now) = accepted();
    let rss = RssConfig::new(1).unwrap();
    let other_nic = SimNic::new(rss.clone(), 64);
    let mut other = cores_with(&other_nic, &rss, false, |_| {}).pop().unwrap();
    // Another core's stack cannot close it; the handle then goes home to be closed.
    Sockets::close(&mut other, conn);
    run(&mut cores, &mut peer, &mut now, 20);
    assert!(!peer.tcp(ph).may_recv(), "its own stack sent FIN");
}

/// kv's case: a reply leaves in two small parts, the second before the peer acknowledged
/// the first. With Nagle (the default) the second waits for the peer's (delayed) ACK; with
/// `set_nodelay` it leaves at once.
#[test]
fn nodelay_sends_a_second_small_segment_before_the_first_is_acknowledged() {
    for nodelay in [false, true] {
        let (mut cores, mut peer, ph, conn, mut now) = accepted();
        assert!(Sockets::set_nodelay(&mut cores[0], &conn, nodelay));
        Sockets::send(&mut cores[0], &conn, b"+OK\r\n").unwrap();
        run(&mut cores, &mut peer, &mut now, 1);
        Sockets::send(&mut cores[0], &conn, b"$1\r\nx\r\n").unwrap();
        // Two 1 ms steps: the core sends, the peer takes it; its delayed ACK (10 ms) is
        // not due yet.
        run(&mut cores, &mut peer, &mut now, 2);
        let mut buf = [0u8; 32];
        let n = peer.tcp(ph).recv_slice(&mut buf).unwrap();
        assert_eq!(n, if nodelay { 12 } else { 5 }, "nodelay={nodelay}");
    }
}

/// `take_ready` lists the connections with news (bytes, FIN, reset, a fired timer), each once,
/// and nothing for idle ones: what lets a pass visit a few connections out of thousands.
#[test]
fn take_ready_lists_the_connections_with_news_and_not_the_idle_ones() {
    let rss = RssConfig::new(1).unwrap();
    let nic = SimNic::new(rss.clone(), 1024);
    let mut cores = cores(&nic, &rss, false);
    let mut peer = Peer::new(&nic);
    Sockets::listen(&mut cores[0], 80).unwrap();
    let ph: Vec<_> = (0..4).map(|k| peer.connect(40_000 + k, 80)).collect();
    let mut now = 0;
    run(&mut cores, &mut peer, &mut now, 20);
    let conns: Vec<Conn> = (0..4)
        .map(|_| Sockets::accept(&mut cores[0], 80).unwrap())
        .collect();
    let slots: Vec<u32> = conns.iter().map(Conn::slot).collect();
    let take = |c: &mut Core| {
        let mut v = Vec::new();
        Sockets::take_ready(c, &mut v);
        v
    };
    // The handshakes were news; after they are taken, idle connections are not.
    let first = take(&mut cores[0]);
    assert!(slots.iter().all(|s| first.contains(s)), "{first:?}");
    run(&mut cores, &mut peer, &mut now, 20);
    assert_eq!(take(&mut cores[0]), [], "idle connections have no news");

    // Bytes on one connection: that one, once, however many passes it took.
    peer.tcp(ph[2]).send_slice(b"GET /").unwrap();
    run(&mut cores, &mut peer, &mut now, 20);
    assert_eq!(take(&mut cores[0]), [slots[2]]);
    assert_eq!(take(&mut cores[0]), []);

    // A FIN and a reset.
    peer.tcp(ph[0]).close();
    peer.tcp(ph[1]).abort();
    run(&mut cores, &mut peer, &mut now, 20);
    let mut v = take(&mut cores[0]);
    v.sort_unstable();
    assert_eq!(v, [slots[0], slots[1]]);

    // Our bytes to a peer that has gone silent: the retransmission timer is news too.
    Sockets::send(&mut cores[0], &conns[3], b"hello").unwrap();
    cores[0].poll(now);
    assert_eq!(take(&mut cores[0]), []);
    for _ in 0..30 {
        now += 100_000;
        cores[0].poll(now);
    }
    // (Connections 0 and 1, ended above, may have timers of their own firing meanwhile.)
    let v = take(&mut cores[0]);
    assert!(
        v.contains(&slots[3]),
        "a fired timer lists the connection: {v:?}"
    );
    assert!(!v.contains(&slots[2]), "the idle one is not listed: {v:?}");
}

/// `drain_with` takes what `recv_with` shows in two pieces when the receive ring wraps, asks
/// for room before looking, and reports a FIN that follows the bytes.
#[test]
fn drain_with_reads_across_the_rings_wrap_and_reports_the_fin() {
    let (mut cores, mut peer, ph, conn, mut now) = accepted();
    let chunk = [7u8; 1000];
    let (mut split, mut rounds) = (false, 0);
    while !split {
        rounds += 1;
        assert!(rounds < 100, "the receive ring never wrapped");
        peer.tcp(ph).send_slice(&chunk).unwrap();
        run(&mut cores, &mut peer, &mut now, 20);
        // One recv_with shows less than arrived when the bytes wrap the ring...
        let mut shown = 0;
        let _ = Sockets::recv_with(&mut cores[0], &conn, &mut |d| {
            shown = d.len();
            0
        });
        split = shown < chunk.len();
        // ...and drain_with takes all of it in one call either way.
        let mut got = 0;
        let d = cores[0].drain_with(&conn, &mut |step| match step {
            Drain::Room => 4096,
            Drain::Bytes(b) => {
                got += b.len();
                b.len()
            }
        });
        assert_eq!(
            (got, d.took, d.left, d.end),
            (chunk.len(), chunk.len(), false, None)
        );
    }
    // No room: nothing is read, and the bytes are said to be left.
    peer.tcp(ph).send_slice(b"more").unwrap();
    run(&mut cores, &mut peer, &mut now, 20);
    let d = cores[0].drain_with(&conn, &mut |_| 0);
    assert_eq!((d.took, d.left), (0, true));
    // Bytes then the FIN: both in one call.
    peer.tcp(ph).close();
    run(&mut cores, &mut peer, &mut now, 20);
    let d = cores[0].drain_with(&conn, &mut |step| match step {
        Drain::Room => 64,
        Drain::Bytes(b) => b.len(),
    });
    assert_eq!(
        (d.took, d.left, d.end),
        (4, false, Some(RecvError::Finished))
    );
}
