//! Host cost of pipelined commands whose keys live on two cores: one connection on core 1
//! sends N pipelines of 16 commands (SET and GET alternating between a key of core 0 and a
//! key of core 1, redis-benchmark's `-P 16` at its worst) through `corenet_kv::sim`, waiting
//! for each pipeline's replies before the next. Run it under callgrind with two N and take the
//! difference per command (docs/kv.md, "Cost per command"):
//!
//! ```sh
//! cargo build --release -p kv --example kv_cost
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/kv_cost 200
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/kv_cost 1200
//! ```
//!
//! `kv_cost N 100000`: the same with a keyspace of 100 000 keys filled beforehand, each
//! pipeline 8 SET and 8 GET of random keys (redis-benchmark's `-r 100000`; the difference
//! between two N then includes making the keys' names, about a tenth of a command).
//!
//! `kv_cost N 100000 CMD` (CMD one of `set`, `get`, `incr`, `lpush`, `lpop`): each pipeline
//! is 16 of that command alone, with redis-benchmark's keys and values (`key:%012d` for SET
//! and GET, `counter:%012d` for INCR, the one list `mylist` for LPUSH and LPOP, value
//! `xxx`), so the commands of `redis-benchmark -t set,get,incr,lpush,lpop -P 16 -r 100000`
//! can be compared one by one.

use corenet_kv::links::rings;
use corenet_kv::route::owner;
use corenet_kv::session::{Limits, Session};
use corenet_kv::sim::Machine;

fn encode(words: &[&str], out: &mut Vec<u8>) {
    out.extend_from_slice(format!("*{}\r\n", words.len()).as_bytes());
    for w in words {
        out.extend_from_slice(format!("${}\r\n{w}\r\n", w.len()).as_bytes());
    }
}

fn key_on(core: usize) -> String {
    (0..)
        .map(|i| format!("key:{i}"))
        .find(|k| owner(k.as_bytes(), 2) == core)
        .unwrap_or_default()
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    // Second argument: a keyspace as redis-benchmark's `-r N` (keys `key:%012d`, filled
    // beforehand, random keys in the pipelines); without it the same two keys throughout.
    let keyspace: u64 = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(0);
    let only = std::env::args().nth(3).unwrap_or_default();
    // Fourth argument: cores (default 2; 1 is the 1-vCPU guest, no command crosses cores).
    let cores: usize = std::env::args()
        .nth(4)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2)
        .clamp(1, 2);
    let (k0, k1) = (key_on(0), key_on(1));
    let fixed = {
        let mut p = Vec::new();
        for i in 0..4 {
            let v = format!("v{i}");
            encode(&["SET", &k0, &v], &mut p);
            encode(&["GET", &k1], &mut p);
            encode(&["GET", &k0], &mut p);
            encode(&["SET", &k1, &v], &mut p);
        }
        p
    };
    let mut q = rings(cores);
    let mut m = Machine::new(cores, 1 << 30, 1 << 24, &mut q);
    let l = Limits::default();
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut random_key = move || {
        rng = rng
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        format!("key:{:012}", (rng >> 33) % keyspace.max(1))
    };
    for i in 0..keyspace {
        let k = format!("key:{i:012}");
        let mut out = Vec::new();
        let node = &mut m.nodes[owner(k.as_bytes(), cores)];
        node.exec(&[b"SET", k.as_bytes(), b"xxx"], 0, 0, &mut out);
    }
    let me = cores - 1;
    let mut sessions = [(me, Session::new(1))];
    let (mut bytes, mut passes) = (0usize, 0usize);
    // One command alone: its pipelines are made before the measured loop (always the same
    // 1 200 of them, so two N differ only in the commands run, not in making keys' names).
    let made: Vec<Vec<u8>> = if only.is_empty() {
        Vec::new()
    } else {
        (0..1200)
            .map(|_| {
                let mut p = Vec::new();
                for _ in 0..16 {
                    match only.as_str() {
                        "set" => encode(&["SET", &random_key(), "xxx"], &mut p),
                        "get" => encode(&["GET", &random_key()], &mut p),
                        "incr" => {
                            let k = random_key().replacen("key:", "counter:", 1);
                            encode(&["INCR", &k], &mut p)
                        }
                        "lpush" => encode(&["LPUSH", "mylist", "xxx"], &mut p),
                        _ => encode(&["LPOP", "mylist"], &mut p),
                    }
                }
                p
            })
            .collect()
    };
    for i in 0..n {
        let pipeline = if !made.is_empty() {
            made[i % made.len()].clone()
        } else if keyspace == 0 {
            fixed.clone()
        } else {
            let mut p = Vec::new();
            for i in 0..8 {
                encode(&["SET", &random_key(), &format!("v{i}")], &mut p);
                encode(&["GET", &random_key()], &mut p);
            }
            p
        };
        let s = &mut sessions[0].1;
        s.on_input(&pipeline, &l, &mut m.pool, &mut m.nodes[me], 0)
            .expect("room");
        loop {
            m.step(&mut sessions, &l).expect("room");
            passes += 1;
            let s = &mut sessions[0].1;
            let out = s.output().len();
            bytes += out;
            s.consumed(out);
            if !s.waiting() {
                break;
            }
        }
    }
    println!(
        "{n} pipelines of 16: {bytes} reply bytes, {:.2} passes per pipeline",
        passes as f64 / n as f64
    );
}
