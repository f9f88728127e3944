//! Batching across cores: a pipeline whose keys live on both cores costs one ring message
//! each way per pass, batches stay bounded, and replies still leave in request order.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use core::sync::atomic::{AtomicUsize, Ordering};

use super::cross::{encode, reference};
use crate::links::{MAX_BATCH, Msg, rings, wire};
use crate::node::{Args, Forward};
use crate::route::owner;
use crate::session::{Limits, Session};
use crate::sim::Machine;

/// `n` keys owned by core `core` of 2.
fn keys_on(core: usize, n: usize) -> Vec<String> {
    (0..)
        .map(|i| format!("key:{i}"))
        .filter(|k| owner(k.as_bytes(), 2) == core)
        .take(n)
        .collect()
}

/// 16 commands (redis-benchmark's `-P 16`) alternating between keys of core 0 and core 1:
/// every command is a boundary between local and remote keys.
fn alternating() -> Vec<String> {
    let (k0, k1) = (keys_on(0, 4), keys_on(1, 4));
    let mut cmds = Vec::new();
    for i in 0..4 {
        cmds.push(format!("SET {} v{i}", k0[i]));
        cmds.push(format!("INCR {}", k1[i]));
        cmds.push(format!("GET {}", k0[i]));
        cmds.push(format!("LPUSH {} x{i}", k1[i]));
    }
    cmds
}

#[test]
fn a_pipeline_across_cores_is_answered_in_one_round_trip_in_order() {
    let cmds = alternating();
    let want = reference(&cmds);
    let mut input = Vec::new();
    cmds.iter().for_each(|c| encode(c, &mut input));
    let mut q = rings(2);
    let mut m = Machine::new(2, 1 << 20, 1 << 20, &mut q);
    let l = Limits::default();
    // The connection is on core 1; half of its commands are core 0's.
    let mut sessions = [(1, Session::new(9))];
    let (c, s) = &mut sessions[0];
    s.on_input(&input, &l, &mut m.pool, &mut m.nodes[*c], 0)
        .unwrap();
    // Pass 1: core 1 sends core 0's eight parts; core 0 (later in the pass order: the
    // simulation runs core 0 first) answers them in pass 2, core 1 delivers in pass 2.
    m.step(&mut sessions, &l).unwrap();
    m.step(&mut sessions, &l).unwrap();
    let s = &mut sessions[0].1;
    assert!(
        s.output() == want.as_slice(),
        "all 16 replies, in request order"
    );
    assert!(!s.waiting());
    // One message each way, not one per command or per local/remote boundary.
    assert_eq!(m.messages, 2);
    assert_eq!(m.largest, 8);
    s.consumed(want.len());
    s.release(&mut m.pool);
}

#[test]
fn batches_are_bounded_and_keep_order_past_the_bound() {
    // 2 000 parts for the other core in one read: split into messages of MAX_BATCH.
    let k0 = keys_on(0, 40);
    let cmds: Vec<String> = (0..2000)
        .map(|i| match i % 3 {
            0 => format!("INCR {}", k0[i % 40]),
            1 => format!("GET {}", k0[(i * 7) % 40]),
            _ => format!("SET {} {i}", k0[(i * 3) % 40]),
        })
        .collect();
    let want = reference(&cmds);
    let mut input = Vec::new();
    cmds.iter().for_each(|c| encode(c, &mut input));
    let l = Limits {
        max_waiting: 4096,
        max_out: 1 << 20,
        ..Limits::default()
    };
    let mut q = rings(2);
    let mut m = Machine::new(2, 1 << 20, 1 << 21, &mut q);
    let got = m.serve_one(&input, 65536, &l);
    assert!(got == want, "replies in request order");
    assert_eq!(m.largest, MAX_BATCH, "a full batch, never more");
    assert!(m.messages as usize >= 2 * 2000 / MAX_BATCH);
}

#[test]
fn local_replies_queued_behind_a_remote_one_are_not_one_oversized_reply() {
    // 20 local replies of 7 bytes wait behind a remote GET in one buffer of 140 bytes: over
    // max_reply together, each well under it; the connection is not shed.
    let k0 = keys_on(0, 1);
    let mut cmds = alloc::vec![format!("GET {}", k0[0])];
    cmds.extend((0..20).map(|_| String::from("PING")));
    let want = reference(&cmds);
    let mut input = Vec::new();
    cmds.iter().for_each(|c| encode(c, &mut input));
    let l = Limits {
        max_reply: 64,
        ..Limits::default()
    };
    let mut q = rings(2);
    let mut m = Machine::new(2, 1 << 20, 1 << 20, &mut q);
    assert!(m.serve_one(&input, 65536, &l) == want);
}

#[test]
fn a_remote_reply_over_the_reply_bound_sheds_the_connection() {
    let k0 = keys_on(0, 1);
    let mut input = Vec::new();
    encode(&format!("SET {} {}", k0[0], "x".repeat(100)), &mut input);
    encode(&format!("GET {}", k0[0]), &mut input);
    encode("PING", &mut input);
    let l = Limits {
        max_reply: 64,
        ..Limits::default()
    };
    let mut q = rings(2);
    let mut m = Machine::new(2, 1 << 20, 1 << 20, &mut q);
    // At most the +OK (it came back in the same batch), never the 107-byte reply nor the
    // PONG after it: the oversized reply from core 0 sheds the connection (Redis's output
    // buffer limit).
    let got = m.serve_one(&input, 65536, &l);
    assert!(b"+OK\r\n".starts_with(&got), "{got:?}");
}

static WOKEN: [AtomicUsize; 3] = [const { AtomicUsize::new(0) }; 3];

fn wake(core: usize) {
    WOKEN[core].fetch_add(1, Ordering::Relaxed);
}

#[test]
fn a_flush_wakes_each_core_it_posted_to_once_and_no_other() {
    let mut q = rings(3);
    let mut l = wire(3, &mut q);
    l[0].set_wake(wake);
    assert_eq!(l[0].flush(), 0);
    assert_eq!(
        WOKEN[1].load(Ordering::Relaxed),
        0,
        "nothing posted, no wake-up"
    );
    for seq in 0..10 {
        let f = Forward {
            from: 0,
            token: 1,
            seq,
            part: 0,
            args: Args::new([&b"GET"[..], b"k"].into_iter()),
        };
        assert!(l[0].forward(1, f));
    }
    assert!(
        !l[0].forward(
            0,
            Forward {
                from: 0,
                token: 1,
                seq: 0,
                part: 0,
                args: Args::default(),
            }
        ),
        "not to itself"
    );
    assert_eq!(l[0].flush(), 0);
    let woken: Vec<usize> = WOKEN.iter().map(|w| w.load(Ordering::Relaxed)).collect();
    assert_eq!(woken, [0, 1, 0], "core 1 once for its one message");
    match l[1].receive() {
        Some(Msg::Forwards(v)) => {
            assert_eq!(
                v.iter().map(|f| f.seq).collect::<Vec<_>>(),
                (0..10).collect::<Vec<_>>()
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(l[1].receive().is_none(), "one message for ten parts");
}

#[test]
fn arguments_in_flight_to_another_core_are_charged_and_bounded() {
    // A client pipelining SETs of 4 KiB values to the other core's keys, with no pass in
    // between: what it parks in flight is charged to the pool and stops parsing at max_out.
    let k0 = keys_on(0, 1);
    let value = "v".repeat(4096);
    let mut input = Vec::new();
    for _ in 0..100 {
        encode(&format!("SET {} {value}", k0[0]), &mut input);
    }
    let l = Limits::default();
    let mut q = rings(2);
    let mut m = Machine::new(2, 1 << 24, 1 << 24, &mut q);
    let mut s = Session::new(1);
    let mut at = 0;
    while at < input.len() {
        let room = s.input_room(&l).min(input.len() - at);
        if room == 0 {
            break;
        }
        s.on_input(&input[at..at + room], &l, &mut m.pool, &mut m.nodes[1], 0)
            .unwrap();
        at += room;
    }
    let parked: usize = m.nodes[1].outbox.iter().map(|(_, f)| f.args.bytes()).sum();
    assert!(at < input.len(), "stopped reading");
    assert!(
        parked <= l.max_out + l.resp.max_request,
        "{parked} bytes in flight"
    );
    assert_eq!(m.pool.used(), s.memory(), "in-flight bytes charged");
    assert!(s.memory() >= parked);
    s.release(&mut m.pool);
    assert_eq!(m.pool.used(), 0);
}
