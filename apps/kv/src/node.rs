//! One core's server state shared by its connections: its part of the keyspace, the parts
//! of commands waiting to go to other cores, and counters.

use alloc::vec::Vec;

use crate::cmd::{self, Exec, ServerInfo};
use crate::store::{Policy, Store};

/// A command part sent to the core owning its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    /// The core that sent it (where the reply goes).
    pub from: usize,
    /// The sending core's connection.
    pub token: u64,
    /// The command's place in that connection's reply order.
    pub seq: u64,
    /// Which part of the command.
    pub part: u32,
    /// The arguments.
    pub args: Vec<Vec<u8>>,
}

/// The owner's answer to a [`Forward`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The connection on the receiving core.
    pub token: u64,
    /// As in the forward.
    pub seq: u64,
    /// As in the forward.
    pub part: u32,
    /// One complete RESP reply.
    pub bytes: Vec<u8>,
    /// The core owning the key had no heap to spare for the reply and did not run the
    /// command: the receiving core sheds the connection (as it does for a reply over the
    /// output bound; `bytes` is empty).
    pub shed: bool,
}

/// A core's server.
pub struct Node {
    /// This core.
    pub me: usize,
    /// Cores serving (the partition count).
    pub cores: usize,
    /// This core's keys.
    pub store: Store,
    /// What INFO reports (the appliance keeps it current).
    pub info: ServerInfo,
    /// Parts to send to their owners, as `(core, part)`: the appliance moves them to the
    /// rings after each pass.
    pub outbox: Vec<(usize, Forward)>,
    rng: u64,
}

impl Node {
    /// Core `me` of `cores`, holding at most `limit` bytes of keys under `policy`.
    pub fn new(me: usize, cores: usize, limit: usize, policy: Policy, seed: u64) -> Self {
        Self {
            me,
            cores: cores.max(1),
            store: Store::new(limit, policy),
            info: ServerInfo {
                core: me,
                cores,
                ..ServerInfo::default()
            },
            outbox: Vec::new(),
            rng: seed | 1,
        }
    }

    /// Runs a command on this core's keys, appending its reply to `out`.
    pub fn exec(&mut self, args: &[&[u8]], client_id: u64, now_ms: u64, out: &mut Vec<u8>) {
        self.info.commands += 1;
        // Set in place rather than a copy of the whole ServerInfo (some 150 bytes) per command.
        self.info.client_id = client_id;
        let mut x = Exec {
            store: &mut self.store,
            now_ms,
            rng: &mut self.rng,
            info: &self.info,
        };
        cmd::execute(args, &mut x, out);
    }

    /// Runs a part another core sent and makes its reply.
    pub fn serve(&mut self, f: &Forward, now_ms: u64) -> Reply {
        let args: Vec<&[u8]> = f.args.iter().map(|a| a.as_slice()).collect();
        let mut bytes = Vec::new();
        self.exec(&args, f.token, now_ms, &mut bytes);
        Reply {
            token: f.token,
            seq: f.seq,
            part: f.part,
            bytes,
            shed: false,
        }
    }

    /// The reply for a part this core will not run (its heap is low): the connection it came
    /// from is shed.
    pub fn refuse(f: &Forward) -> Reply {
        Reply {
            token: f.token,
            seq: f.seq,
            part: f.part,
            bytes: Vec::new(),
            shed: true,
        }
    }
}
