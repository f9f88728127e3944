//! The flow table: connection slots, each with its own socket set, found by 4-tuple hash.

use alloc::vec::Vec;

use corenet_nic::{RxQueue, TxQueue};
use smoltcp::iface::SocketSet;

use super::{Connection, CoreStack, Origin, Slot, TcpConn, Tuple, classify};

impl<R: RxQueue, T: TxQueue> CoreStack<R, T> {
    pub(super) fn insert_conn(
        &mut self,
        tuple: Tuple,
        socket: impl smoltcp::socket::AnySocket<'static>,
        origin: Origin,
    ) -> TcpConn {
        let mut set = SocketSet::new(Vec::with_capacity(1));
        let handle = set.add(socket);
        let conn = Connection {
            set,
            handle,
            dirty: false,
            armed: None,
            tuple,
            origin,
            closed: false,
            handshaking: true,
            snd_max: None,
            half_open: false,
            port_buffer_extra: 0,
            auto_from_us: None,
            tail: super::sndbuf::Tail::Fresh,
            grow_after: None,
        };
        let idx = match self.free_slots.pop() {
            Some(i) => {
                self.slots[i as usize].conn = Some(conn);
                i
            }
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    conn: Some(conn),
                    ready: false,
                });
                self.slots.len() as u32 - 1
            }
        };
        let b = self.bucket_of(&tuple);
        self.buckets[b].flows.push((tuple, idx));
        self.live += 1;
        self.mark(idx);
        TcpConn {
            index: idx,
            generation: self.slots[idx as usize].generation,
            owner: self.dev.rx_queue().queue_index(),
        }
    }

    pub(super) fn remove_conn(&mut self, idx: u32) {
        let Some(slot) = self.slots.get_mut(idx as usize) else {
            return;
        };
        let Some(conn) = slot.conn.take() else { return };
        slot.generation = slot.generation.wrapping_add(1);
        self.free_slots.push(idx);
        self.live -= 1;
        self.port_buffer_used -= conn.port_buffer_extra;
        // Read once per connection, at the end, so the per-segment path pays nothing.
        let socket = conn.set.get::<smoltcp::socket::tcp::Socket>(conn.handle);
        let loss = socket.loss_events();
        self.counters.tcp_recoveries.add(u64::from(loss.recoveries));
        self.counters.tcp_loss_probes.add(u64::from(loss.probes));
        self.counters.tcp_rtos.add(u64::from(loss.timeouts));
        let hystart = socket.hystart_events();
        self.counters
            .tcp_hystart_rises
            .add(u64::from(hystart.rises));
        self.counters
            .tcp_hystart_exits
            .add(u64::from(hystart.exits));
        if conn.half_open {
            self.leave_half_open(conn.tuple.local_port);
        }
        let b = self.bucket_of(&conn.tuple);
        self.buckets[b].flows.retain(|&(_, i)| i != idx);
        if conn.origin == Origin::Connected {
            let _ = self
                .ports
                .release(conn.tuple.local_port, self.now.total_micros() as u64);
        }
    }

    pub(super) fn bucket_of(&self, t: &Tuple) -> usize {
        classify::bucket_of(t, self.hash_key, self.cfg.bucket_bits)
    }
}
