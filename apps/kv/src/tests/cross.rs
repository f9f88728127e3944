//! Sessions on several cores with the rings between them: replies in request order and
//! equal to what one core holding every key answers.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use corenet_http::budget::Pool;

use super::node;
use crate::links::rings;
use crate::route::{Combine, Plan, combine, owner, plan};
use crate::session::{Limits, Session};
use crate::sim::Machine;
use crate::store::Policy;

pub(super) fn encode(cmd: &str, out: &mut Vec<u8>) {
    let words: Vec<&str> = cmd.split(' ').collect();
    out.extend_from_slice(format!("*{}\r\n", words.len()).as_bytes());
    for w in words {
        out.extend_from_slice(format!("${}\r\n{w}\r\n", w.len()).as_bytes());
    }
}

fn commands(count: usize, seed: u64) -> Vec<String> {
    let mut x = seed;
    let mut next = |m: u64| {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 33) % m
    };
    (0..count)
        .map(|_| {
            let (i, j) = (next(8), next(8));
            match next(12) {
                0 => format!("SET k{i} v{j}"),
                1 => format!("GET k{i}"),
                2 => format!("INCR c{i}"),
                3 => format!("LPUSH l{i} x{j}"),
                4 => format!("LPOP l{i}"),
                5 => format!("DEL k{i} c{j}"),
                6 => format!("EXISTS k{i} c{j} l{i}"),
                7 => format!("MGET k{i} k{j} c{i}"),
                8 => format!("MSET k{i} a{j} k{j} b{i}"),
                9 => "DBSIZE".into(),
                10 => format!("INCR k{i}"),
                _ => "PING".into(),
            }
        })
        .collect()
}

/// What one core holding every key answers (arguments split at spaces).
pub(super) fn reference(cmds: &[String]) -> Vec<u8> {
    let mut n = node(1 << 20, Policy::NoEviction);
    let mut out = Vec::new();
    for c in cmds {
        let args: Vec<&[u8]> = c.split(' ').map(str::as_bytes).collect();
        n.exec(&args, 1, 0, &mut out);
    }
    out
}

fn run_pipelined(cores: usize, cmds: &[String], chunk: usize, l: &Limits) -> Vec<u8> {
    let mut input = Vec::new();
    cmds.iter().for_each(|c| encode(c, &mut input));
    let mut q = rings(cores);
    Machine::new(cores, 1 << 20, 1 << 20, &mut q).serve_one(&input, chunk, l)
}

#[test]
fn forwarded_replies_come_back_in_order_and_equal_one_cores() {
    let cmds = commands(3000, 1);
    let want = reference(&cmds);
    for cores in [1, 2, 3] {
        for chunk in [1, 7, 100, 65536] {
            let got = run_pipelined(cores, &cmds, chunk, &Limits::default());
            assert!(got == want, "cores {cores} chunk {chunk}");
        }
    }
}

#[test]
fn back_pressure_holds_with_few_waiting_slots_and_full_rings() {
    // Far more pipelined parts than a ring holds, few slots per connection.
    let cmds = commands(4000, 2);
    let want = reference(&cmds);
    let l = Limits {
        max_waiting: 3,
        max_out: 64,
        ..Limits::default()
    };
    assert!(run_pipelined(2, &cmds, 65536, &l) == want);
}

#[test]
fn partition_and_plans() {
    assert_eq!(owner(b"anything", 1), 0);
    let mut counts = [0usize; 4];
    for i in 0..4000 {
        counts[owner(format!("key:{i}").as_bytes(), 4)] += 1;
    }
    assert!(counts.iter().all(|&c| c > 800), "{counts:?}");
    // Hash tags keep related keys together.
    assert_eq!(owner(b"{user1}.a", 4), owner(b"{user1}.b", 4));
    assert_eq!(owner(b"{user1}.a", 4), owner(b"user1", 4));
    let me = owner(b"k", 2);
    assert_eq!(plan(&[b"GET", b"k"], me, 2), Plan::Here);
    assert_eq!(plan(&[b"PING"], 0, 2), Plan::Here);
    assert_eq!(
        plan(&[b"GET"], 0, 2),
        Plan::Here,
        "arity errors answered here"
    );
    match plan(&[b"GET", b"k"], 1 - me, 2) {
        Plan::Split(p, Combine::Single) => assert_eq!(p[0].owner, me),
        other => panic!("{other:?}"),
    }
    match plan(&[b"DBSIZE"], 0, 3) {
        Plan::Split(p, Combine::Sum) => assert_eq!(p.len(), 3),
        other => panic!("{other:?}"),
    }
    let mut out = Vec::new();
    combine(
        Combine::Sum,
        &[b":2\r\n".to_vec(), b":3\r\n".to_vec()],
        &mut out,
    );
    assert_eq!(out, b":5\r\n");
    out.clear();
    let parts = [b"*1\r\n$1\r\na\r\n".to_vec(), b"*1\r\n$-1\r\n".to_vec()];
    combine(Combine::Array, &parts, &mut out);
    assert_eq!(out, b"*2\r\n$1\r\na\r\n$-1\r\n");
    out.clear();
    combine(
        Combine::Ok,
        &[b"+OK\r\n".to_vec(), b"-OOM x\r\n".to_vec()],
        &mut out,
    );
    assert_eq!(out, b"-OOM x\r\n");
}

#[test]
fn quit_and_protocol_errors_close_after_the_replies_before_them() {
    let mut q = rings(2);
    let mut m = Machine::new(2, 1 << 20, 1 << 20, &mut q);
    let l = Limits::default();
    let mut sessions = [(1, Session::new(3))];
    let (c, s) = &mut sessions[0];
    let mut input = Vec::new();
    for k in ["a", "b", "c", "d"] {
        encode(&format!("SET {k} 1"), &mut input);
    }
    input.extend_from_slice(b"QUIT\r\nPING\r\n");
    s.on_input(&input, &l, &mut m.pool, &mut m.nodes[*c], 0)
        .unwrap();
    for _ in 0..4 {
        m.step(&mut sessions, &l).unwrap();
    }
    let s = &mut sessions[0].1;
    assert_eq!(s.output(), b"+OK\r\n+OK\r\n+OK\r\n+OK\r\n+OK\r\n");
    let n = s.output().len();
    s.consumed(n);
    assert!(s.done());

    let mut s = Session::new(4);
    s.on_input(
        b"PING\r\n*1\r\n+x\r\nPING\r\n",
        &l,
        &mut m.pool,
        &mut m.nodes[0],
        0,
    )
    .unwrap();
    assert_eq!(
        s.output(),
        b"+PONG\r\n-ERR Protocol error: expected '$', got '+'\r\n"
    );
    s.consumed(s.output().len());
    assert!(s.done());
    s.release(&mut m.pool);
}

#[test]
fn a_pipelining_client_that_does_not_read_is_bounded() {
    let mut n = node(1 << 20, Policy::NoEviction);
    let mut pool = Pool::new(1 << 20);
    let l = Limits::default();
    let mut s = Session::new(1);
    let mut input = Vec::new();
    for _ in 0..10_000 {
        encode("PING", &mut input);
    }
    let mut at = 0;
    loop {
        let room = s.input_room(&l).min(input.len() - at);
        if room == 0 {
            break;
        }
        s.on_input(&input[at..at + room], &l, &mut pool, &mut n, 0)
            .unwrap();
        at += room;
    }
    assert!(at < input.len(), "stopped reading");
    assert!(s.output().len() < l.max_out + 64);
    assert!(s.memory() <= l.max_out * 2 + l.resp.max_request);
    assert_eq!(pool.used(), s.memory());
    s.release(&mut pool);
    assert_eq!(pool.used(), 0);
}

#[test]
fn a_half_close_after_a_partial_command_closes_after_the_replies() {
    let mut q = rings(2);
    let mut m = Machine::new(2, 1 << 20, 1 << 20, &mut q);
    let l = Limits::default();
    let mut sessions = [(1, Session::new(5))];
    let (c, s) = &mut sessions[0];
    s.on_input(
        b"*2\r\n$3\r\nGET\r\n$1\r\nq\r\nPIN",
        &l,
        &mut m.pool,
        &mut m.nodes[*c],
        0,
    )
    .unwrap();
    s.peer_closed();
    for _ in 0..4 {
        m.step(&mut sessions, &l).unwrap();
    }
    let s = &mut sessions[0].1;
    assert_eq!(s.output(), b"$-1\r\n");
    s.consumed(5);
    assert!(s.done(), "closes: the partial command can never complete");
}

/// The owner of a key runs other cores' commands only while its heap has room for the
/// replies (`Server::set_heap_room`): each reply it makes is spent from that room, and a
/// part that finds none left is answered `shed` without being run (the asking core then
/// sheds that connection), until the next pass says how much heap is free.
#[test]
fn the_owner_refuses_other_cores_parts_once_replies_spent_its_heap_room() {
    use crate::links::{Msg, links};
    use crate::node::{Args, Forward, Node};
    use crate::serve::Server;
    use corenet_http::budget::HEAP_SLACK;
    use corenet_http::timers::Timeouts;

    let mut ends = links(2);
    let mut asker = ends.remove(0);
    let owner_end = ends.remove(0);
    let mut s = Server::new(
        Node::new(1, 2, 1 << 24, Policy::NoEviction, 9),
        Some(owner_end),
        6379,
        10,
        1 << 20,
        Timeouts::default(),
    );
    let key = (0..)
        .map(|i| format!("big:{i}"))
        .find(|k| owner(k.as_bytes(), 2) == 1)
        .unwrap_or_default();
    let mut out = Vec::new();
    let value = "v".repeat(4096);
    s.node
        .exec(&[b"SET", key.as_bytes(), value.as_bytes()], 1, 0, &mut out);
    assert_eq!(out, b"+OK\r\n");

    // Room for about five 4 KiB replies above the slack; twelve GETs ask for more.
    let room = HEAP_SLACK + 5 * 4096;
    let ask = |asker: &mut crate::links::Links<'static>, seq: u64| {
        let f = Forward {
            from: 0,
            token: 7,
            seq,
            part: 0,
            args: Args::new([&b"GET"[..], key.as_bytes()].into_iter()),
        };
        assert!(asker.forward(1, f));
    };
    let replies = |asker: &mut crate::links::Links<'static>| {
        let mut got = Vec::new();
        while let Some(m) = asker.receive() {
            if let Msg::Replies(batch) = m {
                got.extend(batch);
            }
        }
        got
    };
    for seq in 0..12 {
        ask(&mut asker, seq);
    }
    asker.flush();
    s.set_heap_room(room);
    s.poll_remote(0);
    let got = replies(&mut asker);
    assert_eq!(got.len(), 12);
    // In order: served while what the replies before spent left room, refused after.
    let mut spent = 0;
    for r in &got {
        if spent < room - HEAP_SLACK {
            assert!(
                !r.shed && r.bytes.len() == 4096 + 9,
                "served with room left"
            );
            spent += r.bytes.capacity();
        } else {
            assert!(r.shed && r.bytes.is_empty(), "refused, not run");
        }
    }
    let served = got.iter().filter(|r| !r.shed).count() as u64;
    assert!((4..=6).contains(&served), "{served}");
    assert_eq!(
        (s.stats.served_remote, s.stats.remote_refused),
        (served, 12 - served)
    );

    // The next pass finds the heap free again (the replies were sent and freed): served.
    ask(&mut asker, 12);
    asker.flush();
    s.set_heap_room(room);
    s.poll_remote(0);
    let got = replies(&mut asker);
    assert!(got.len() == 1 && !got[0].shed);
    // No room at all: nothing is run.
    ask(&mut asker, 13);
    asker.flush();
    s.set_heap_room(HEAP_SLACK);
    s.poll_remote(0);
    let got = replies(&mut asker);
    assert!(got.len() == 1 && got[0].shed);
    assert_eq!(s.stats.remote_refused, 12 - served + 1);
}
