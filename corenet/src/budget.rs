//! A core's memory budget: how the heap splits between TCP sockets, the appliance's
//! per-connection buffers and a reserve, and so how many connections a core may hold.
//!
//! Every connection costs its TCP socket (smoltcp allocates the receive and send buffers up
//! front, `tcpbuf=` each) plus the appliance's fixed per-connection state; the listen
//! backlogs cost sockets too. What connections buffer beyond that (split or pipelined
//! requests, responses, echo data) comes from one pool per core, [`MemoryPlan::app_pool`],
//! which the appliance charges before it grows a buffer and which may say no: the connection
//! is then shed or answered 503, and the heap is never exhausted by what the wire sends.
//!
//! ```text
//! heap = reserve (1/16) + listen backlogs + max_connections * (socket + app state) + app pool
//! ```
//! The connections get [`AppMemory::connection_share`] of the heap (three quarters by
//! default) less the backlogs, paying for the appliance's per-connection state too; the
//! reserve and the pool share the rest, the pool getting about three sixteenths of the heap
//! by default. An appliance whose data lives in the pool (kv's keys) gives the connections
//! less and keeps more.

/// Bytes per socket beyond its two buffers (smoltcp's socket, the set, our slot).
pub const SOCKET_OVERHEAD: u64 = 8 * 1024;

/// What the appliance needs per connection besides the stack's socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppMemory {
    /// Fixed bytes per connection (state kept in the appliance's tables).
    pub per_connection: usize,
    /// Ports the appliance listens on (each keeps a backlog of sockets).
    pub listen_ports: usize,
    /// Sixteenths of the heap that connections (sockets, backlogs and the fixed
    /// per-connection state) may take: 12 (three quarters) by default, clamped to 1..=14.
    pub connection_share: u8,
}

impl Default for AppMemory {
    fn default() -> Self {
        Self {
            per_connection: 512,
            listen_ports: 2,
            connection_share: 12,
        }
    }
}

/// How one core's heap is spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryPlan {
    /// The core's heap, bytes.
    pub heap: u64,
    /// One TCP socket: both buffers and overhead.
    pub per_socket: u64,
    /// Listening sockets per port.
    pub backlog: usize,
    /// Connections the stack holds at most (SYNs beyond get RST).
    pub max_connections: usize,
    /// Bytes for the appliance's elastic per-connection buffers, all connections together.
    pub app_pool: u64,
    /// Kept free for allocator fragmentation, the stack's tables and the appliance's pages.
    pub reserve: u64,
}

/// Connections a core holds at least (below this the pool shrinks instead) and at most.
const CONNECTIONS: (usize, usize) = (16, 16_384);

impl MemoryPlan {
    /// The plan for a heap of `heap` bytes with TCP buffers of `tcp_buffer` bytes each way.
    pub fn new(heap: u64, tcp_buffer: usize, app: &AppMemory) -> Self {
        let per_socket = 2 * tcp_buffer as u64 + SOCKET_OVERHEAD;
        // A burst of SYNs (a load generator opening its connections at once) should find
        // listening sockets ready: up to 64 per port, fewer on small heaps.
        let backlog = ((heap >> 20) as usize).clamp(8, 64);
        let listeners = app.listen_ports as u64 * backlog as u64 * per_socket;
        let reserve = heap / 16;
        let per_connection = per_socket + app.per_connection as u64;
        let sixteenths = u64::from(app.connection_share.clamp(1, 14));
        let share = (heap / 16 * sixteenths).saturating_sub(listeners);
        let max_connections =
            ((share / per_connection) as usize).clamp(CONNECTIONS.0, CONNECTIONS.1);
        let app_pool = heap
            .saturating_sub(reserve + listeners)
            .saturating_sub(max_connections as u64 * per_connection);
        Self {
            heap,
            per_socket,
            backlog,
            max_connections,
            app_pool,
            reserve,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_sums(p: &MemoryPlan, app: &AppMemory) {
        let sockets = (app.listen_ports * p.backlog) as u64 * p.per_socket
            + p.max_connections as u64 * (p.per_socket + app.per_connection as u64);
        assert!(
            sockets + p.app_pool + p.reserve <= p.heap,
            "{p:?} overcommits the heap"
        );
    }

    #[test]
    fn default_heap_splits_as_documented() {
        let app = AppMemory::default();
        let p = MemoryPlan::new(16 << 20, 16 * 1024, &app);
        assert_eq!(p.backlog, 16);
        assert_eq!(p.per_socket, 40 * 1024);
        assert_eq!(p.max_connections, 271);
        // About three sixteenths of the heap for buffers.
        assert!(p.app_pool >= 3 * (16 << 20) / 16, "{p:?}");
        check_sums(&p, &app);
    }

    #[test]
    fn app_state_costs_connections() {
        let small = AppMemory {
            per_connection: 0,
            ..AppMemory::default()
        };
        let big = AppMemory {
            per_connection: 40 * 1024,
            ..AppMemory::default()
        };
        let a = MemoryPlan::new(64 << 20, 16 * 1024, &small);
        let b = MemoryPlan::new(64 << 20, 16 * 1024, &big);
        assert!(
            b.max_connections * 2 <= a.max_connections + 2,
            "{a:?} {b:?}"
        );
        check_sums(&a, &small);
        check_sums(&b, &big);
    }

    #[test]
    fn a_smaller_connection_share_leaves_the_pool_the_rest() {
        let heap = 128 << 20;
        let default = MemoryPlan::new(heap, 16 * 1024, &AppMemory::default());
        let quarter = AppMemory {
            connection_share: 4,
            ..AppMemory::default()
        };
        let q = MemoryPlan::new(heap, 16 * 1024, &quarter);
        // A third of the connections, and the pool from 3/16 to about 11/16 of the heap.
        assert!(
            q.max_connections * 3 <= default.max_connections + 3,
            "{q:?}"
        );
        assert!(q.app_pool >= heap / 16 * 10, "{q:?}");
        assert!(q.app_pool > 3 * default.app_pool, "{q:?} {default:?}");
        check_sums(&q, &quarter);
        // Out-of-range shares are clamped, never overcommitted.
        for share in [0, 15, 16, 255] {
            let app = AppMemory {
                connection_share: share,
                ..AppMemory::default()
            };
            check_sums(&MemoryPlan::new(heap, 16 * 1024, &app), &app);
        }
    }

    #[test]
    fn small_and_large_heaps_stay_within_bounds() {
        let app = AppMemory::default();
        for heap in [1u64 << 20, 2 << 20, 16 << 20, 512 << 20, 8 << 30] {
            for buf in [1024, 4096, 16 * 1024, 1 << 20] {
                let p = MemoryPlan::new(heap, buf, &app);
                assert!((16..=16_384).contains(&p.max_connections));
                if p.max_connections > 16 {
                    check_sums(&p, &app);
                }
            }
        }
        // Tiny heap with huge buffers: the floor of 16 connections leaves no pool.
        let p = MemoryPlan::new(1 << 20, 1 << 20, &app);
        assert_eq!((p.max_connections, p.app_pool), (16, 0));
    }
}
