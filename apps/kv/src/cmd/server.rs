//! Connection and server commands: PING, ECHO, HELLO, CLIENT, COMMAND, CONFIG GET, SELECT,
//! INFO, QUIT, RESET, answered (or refused) the way Redis 7 answers the handshakes that
//! `redis-cli`, `redis-benchmark` and client libraries send.

use alloc::vec::Vec;

use super::{Exec, upper};
use crate::reply;
use crate::store::Policy;

/// The Redis version reported (what clients check features against).
pub const VERSION: &str = "7.0.0";

/// What INFO and HELLO report about the server.
#[derive(Debug, Default, Clone, Copy)]
pub struct ServerInfo {
    /// This core.
    pub core: usize,
    /// Cores serving.
    pub cores: usize,
    /// Connections on this core.
    pub clients: usize,
    /// The connection's id (HELLO, CLIENT ID).
    pub client_id: u64,
    /// Uptime, ms.
    pub uptime_ms: u64,
    /// Commands this core has run.
    pub commands: u64,
    /// Commands forwarded to other cores.
    pub forwarded: u64,
    /// Connections accepted, refused at the limit, shed (a buffer could not grow), and
    /// closed by a deadline, on this core.
    pub conns: [u64; 4],
    /// The core's TCP stack: connections accepted, SYNs refused, resets received, segments
    /// for no socket (answered RST), SYNs with no listener free, SYN cookies sent.
    pub net: [u64; 6],
    /// The rings to other cores: messages sent, parts and replies in them, and messages
    /// that met a full ring (counted each pass one waits in the backlog).
    pub mesh: [u64; 3],
    /// This core's free heap, bytes (what the keys, the connections and the stack have not
    /// taken): INFO's `heap_free`, beside the estimate `used_memory`.
    pub heap_free: u64,
}

pub(super) fn run(name: &str, a: &[&[u8]], x: &mut Exec<'_>, out: &mut Vec<u8>) {
    match name {
        "ping" => match a {
            [] => reply::simple(out, "PONG"),
            [m] => reply::bulk(out, m),
            _ => reply::arity(out, "ping"),
        },
        "echo" => reply::bulk(out, a[0]),
        "hello" => hello(a, x, out),
        "client" => client(a, x, out),
        "command" => {
            let (b, n) = upper(a.first().copied().unwrap_or(b""));
            match &b[..n] {
                b"COUNT" => reply::int(out, 50),
                // No command table: clients fall back to their own (redis-cli does).
                _ => reply::array(out, 0),
            }
        }
        "config" => config(a, x, out),
        "select" => match crate::resp::parse_i64(a[0]) {
            Some(0) => reply::ok(out),
            Some(_) => reply::error(out, "ERR DB index is out of range"),
            None => reply::error(out, reply::NOT_INTEGER),
        },
        "info" => info(x, out),
        // quit: the session closes after the reply; reset: nothing to reset but the name.
        "quit" => reply::ok(out),
        _ => reply::simple(out, "RESET"),
    }
}

/// `HELLO [protover [AUTH u p] [SETNAME n]]`: RESP2 only; 3 is refused with `-NOPROTO`, so
/// clients stay on RESP2.
fn hello(a: &[&[u8]], x: &mut Exec<'_>, out: &mut Vec<u8>) {
    if let Some(v) = a.first() {
        match crate::resp::parse_i64(v) {
            Some(2) => {}
            Some(_) => {
                reply::error(out, "NOPROTO unsupported protocol version");
                return;
            }
            None => {
                reply::error(
                    out,
                    "ERR Protocol version is not an integer or out of range",
                );
                return;
            }
        }
    }
    reply::array(out, 14);
    reply::bulk(out, b"server");
    reply::bulk(out, b"redis");
    reply::bulk(out, b"version");
    reply::bulk(out, VERSION.as_bytes());
    reply::bulk(out, b"proto");
    reply::int(out, 2);
    reply::bulk(out, b"id");
    reply::int(out, x.info.client_id as i64);
    reply::bulk(out, b"mode");
    reply::bulk(out, b"standalone");
    reply::bulk(out, b"role");
    reply::bulk(out, b"master");
    reply::bulk(out, b"modules");
    reply::array(out, 0);
}

fn client(a: &[&[u8]], x: &mut Exec<'_>, out: &mut Vec<u8>) {
    let (b, n) = upper(a[0]);
    match &b[..n] {
        b"SETNAME" | b"SETINFO" | b"NO-EVICT" | b"NO-TOUCH" | b"REPLY" => reply::ok(out),
        b"GETNAME" => reply::nil(out),
        b"ID" => reply::int(out, x.info.client_id as i64),
        _ => {
            out.extend_from_slice(b"-ERR unknown subcommand '");
            out.extend_from_slice(&a[0][..a[0].len().min(128)]);
            out.extend_from_slice(b"'. Try CLIENT HELP.\r\n");
        }
    }
}

/// `CONFIG GET` for the few parameters clients ask about (redis-benchmark asks for `save`
/// and `appendonly`); `CONFIG SET` is refused.
fn config(a: &[&[u8]], x: &mut Exec<'_>, out: &mut Vec<u8>) {
    let (b, n) = upper(a[0]);
    if &b[..n] != b"GET" || a.len() < 2 {
        reply::error(
            out,
            "ERR CONFIG SET is not supported; use the kernel command line",
        );
        return;
    }
    let mut pairs: Vec<(&[u8], Vec<u8>)> = Vec::new();
    let mut num = Vec::new();
    reply::fmt(
        &mut num,
        format_args!("{}", x.store.limit() * x.info.cores.max(1)),
    );
    let policy: &[u8] = match x.store.policy() {
        Policy::NoEviction => b"noeviction",
        Policy::AllKeysLru => b"allkeys-lru",
    };
    for p in &a[1..] {
        let (b, n) = upper(p);
        let v: Option<(&[u8], Vec<u8>)> = match &b[..n] {
            b"SAVE" => Some((b"save", Vec::new())),
            b"APPENDONLY" => Some((b"appendonly", b"no".to_vec())),
            b"MAXMEMORY" => Some((b"maxmemory", num.clone())),
            b"MAXMEMORY-POLICY" => Some((b"maxmemory-policy", policy.to_vec())),
            b"DATABASES" => Some((b"databases", b"1".to_vec())),
            _ => None,
        };
        if let Some(v) = v
            && !pairs.iter().any(|(k, _)| *k == v.0)
        {
            pairs.push(v);
        }
    }
    reply::array(out, 2 * pairs.len());
    for (k, v) in &pairs {
        reply::bulk(out, k);
        reply::bulk(out, v);
    }
}

fn info(x: &mut Exec<'_>, out: &mut Vec<u8>) {
    let i = x.info;
    let s = &x.store;
    let st = s.stats;
    let mut t = Vec::new();
    reply::fmt(
        &mut t,
        format_args!(
            "# Server\r\nredis_version:{VERSION}\r\nredis_mode:standalone\r\nos:corenet\r\n\
             arch_bits:64\r\nuptime_in_seconds:{}\r\nserving_core:{}\r\ncores:{}\r\n\r\n\
             # Clients\r\nconnected_clients:{}\r\n\r\n\
             # Memory\r\nused_memory:{}\r\nmaxmemory:{}\r\nmaxmemory_policy:{}\r\nheap_free:{}\r\n\r\n\
             # Stats\r\ntotal_commands_processed:{}\r\nforwarded_commands:{}\r\n\
             total_connections_received:{}\r\nrejected_connections:{}\r\n\
             shed_connections:{}\r\ntimedout_connections:{}\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\nexpired_keys:{}\r\nevicted_keys:{}\r\n\
             oom_rejections:{}\r\n\r\n# Net\r\ntcp_accepted:{}\r\ntcp_refused:{}\r\n\
             tcp_resets_received:{}\r\ntcp_drop_no_socket:{}\r\ntcp_drop_backlog_empty:{}\r\n\
             tcp_syncookies_sent:{}\r\n\r\n# Mesh\r\nmesh_messages_sent:{}\r\nmesh_items_sent:{}\r\n\
             mesh_ring_full:{}\r\n\r\n# Keyspace\r\ndb0:keys={},expires={},avg_ttl=0\r\n",
            i.uptime_ms / 1000,
            i.core,
            i.cores,
            i.clients,
            s.used(),
            s.limit(),
            match s.policy() {
                Policy::NoEviction => "noeviction",
                Policy::AllKeysLru => "allkeys-lru",
            },
            i.heap_free,
            i.commands,
            i.forwarded,
            i.conns[0],
            i.conns[1],
            i.conns[2],
            i.conns[3],
            st.hits,
            st.misses,
            st.expired,
            st.evicted,
            st.oom,
            i.net[0],
            i.net[1],
            i.net[2],
            i.net[3],
            i.net[4],
            i.net[5],
            i.mesh[0],
            i.mesh[1],
            i.mesh[2],
            s.len(),
            s.volatile(),
        ),
    );
    reply::bulk(out, &t);
}
