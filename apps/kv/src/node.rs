//! One core's server state shared by its connections: its part of the keyspace, the parts
//! of commands waiting to go to other cores, and counters.

use alloc::vec::Vec;

use crate::cmd::{self, Exec, ServerInfo};
use crate::store::{Policy, Store};

/// A command's arguments in one heap block: each is its length (8 bytes, little-endian)
/// then its bytes. A part sent to another core is one allocation, and one free on the core
/// that runs it (a free of another core's block goes through that core's atomic list),
/// however many arguments it has; a vector per argument made three to four for a GET or a
/// SET.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Args {
    buf: Vec<u8>,
    count: usize,
    bytes: usize,
}

/// Length prefix of an argument in [`Args`].
const LEN: usize = 8;

impl Args {
    /// `args`, copied into one block.
    pub fn new<'a>(args: impl Iterator<Item = &'a [u8]> + Clone) -> Self {
        let (count, bytes) = args
            .clone()
            .fold((0, 0), |(c, b), a: &[u8]| (c + 1, b + a.len()));
        let mut buf = Vec::with_capacity(bytes + LEN * count);
        for a in args {
            buf.extend_from_slice(&(a.len() as u64).to_le_bytes());
            buf.extend_from_slice(a);
        }
        Self { buf, count, bytes }
    }

    /// Arguments held.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The arguments' bytes (what the sender's pool is charged while they are in flight).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The arguments in order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        let mut rest = self.buf.as_slice();
        core::iter::from_fn(move || {
            let (len, tail) = rest.split_first_chunk::<LEN>()?;
            let n = usize::try_from(u64::from_le_bytes(*len)).ok()?;
            let a = tail.get(..n)?;
            rest = &tail[n..];
            Some(a)
        })
    }

    /// Calls `f` with the arguments as slices (on the stack for up to 8 of them).
    pub fn with<R>(&self, f: impl FnOnce(&[&[u8]]) -> R) -> R {
        if self.count <= 8 {
            let mut v: heapless::Vec<&[u8], 8> = heapless::Vec::new();
            for a in self.iter() {
                // At most `count` (<= 8) come: the push never fails.
                let _ = v.push(a);
            }
            f(&v)
        } else {
            let v: Vec<&[u8]> = self.iter().collect();
            f(&v)
        }
    }
}

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
    pub args: Args,
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
        let mut bytes = Vec::new();
        f.args
            .with(|args| self.exec(args, f.token, now_ms, &mut bytes));
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

#[cfg(test)]
mod tests {
    use super::Args;
    use alloc::vec::Vec;

    #[test]
    fn args_give_back_what_they_were_made_of() {
        for n in [0usize, 1, 2, 8, 9, 40] {
            let owned: Vec<Vec<u8>> = (0..n).map(|i| alloc::vec![b'a'; i * 7 % 13]).collect();
            let a = Args::new(owned.iter().map(Vec::as_slice));
            assert_eq!((a.len(), a.is_empty()), (n, n == 0));
            assert_eq!(a.bytes(), owned.iter().map(Vec::len).sum::<usize>());
            assert!(a.iter().eq(owned.iter().map(Vec::as_slice)));
            let seen = a.with(|s| s.iter().map(|x| x.to_vec()).collect::<Vec<_>>());
            assert_eq!(seen, owned);
        }
    }
}
