//! One connection from the peer, megabytes each way, every byte checked: the bulk transfer
//! that loss, corruption and reordering tests run on any set-up.

use alloc::vec;

use corenet_nic::{RxQueue, TxQueue};
use smoltcp::iface::SocketHandle;
use smoltcp::phy::Device;

use super::pattern::{fill, first_wrong};
use super::{Peer, Rig};
use crate::stack::{CoreStack, SendError, TcpConn};

/// A set-up [`bulk_both_ways`] can drive: per-core stacks, the peer, and one tick of time.
pub trait World {
    /// The cores' receive queues.
    type Rx: RxQueue;
    /// The cores' transmit queues.
    type Tx: TxQueue;
    /// The peer's device.
    type Dev: Device;
    /// One tick: the peer, the cores, and whatever carries frames between them.
    fn step(&mut self);
    /// The cores and the peer.
    fn parts(&mut self) -> Parts<'_, Self>;
}

/// A [`World`]'s cores and peer, borrowed together.
pub type Parts<'a, W> = (
    &'a mut [CoreStack<<W as World>::Rx, <W as World>::Tx>],
    &'a mut Peer<<W as World>::Dev>,
);

impl World for Rig {
    type Rx = crate::sim::SimRxQueue;
    type Tx = crate::sim::SimTxQueue;
    type Dev = crate::sim::PeerDevice;

    fn step(&mut self) {
        self.run(1);
    }

    fn parts(&mut self) -> Parts<'_, Self> {
        (&mut self.cores, &mut self.peer)
    }
}

/// Streams `len` bytes each way over the connection the peer's socket `ph` opens to our
/// `port` (where every core listens): the peer sends [`super::pattern`] stream 1, the core
/// that accepts answers with stream 2, and every byte is checked on arrival. Panics on a
/// wrong byte, on a send error, or when the transfer stalls for `max_steps` ticks. Returns
/// the core that served and its connection.
pub fn bulk_both_ways<W: World>(
    w: &mut W,
    ph: SocketHandle,
    port: u16,
    len: u64,
    max_steps: usize,
) -> (usize, TcpConn) {
    let mut conn = None;
    let (mut up_sent, mut up_recv, mut down_sent, mut down_recv) = (0u64, 0u64, 0u64, 0u64);
    let mut buf = vec![0u8; 16 * 1024];
    let mut steps = 0;
    while up_recv < len || down_recv < len {
        steps += 1;
        assert!(steps < max_steps, "stalled: up {up_recv} down {down_recv}");
        w.step();
        let (cores, peer) = w.parts();
        if conn.is_none() {
            conn = cores
                .iter_mut()
                .enumerate()
                .find_map(|(q, c)| c.accept(port).ok().map(|h| (q, h)));
        }
        let Some((q, h)) = conn else { continue };
        let core = &mut cores[q];
        // Peer -> core.
        let ps = peer.tcp(ph);
        if up_sent < len && ps.can_send() {
            let n = ps
                .send(|b| {
                    let n = b.len().min((len - up_sent) as usize);
                    fill(&mut b[..n], 1, up_sent);
                    (n, n)
                })
                .expect("the peer's connection is open");
            up_sent += n as u64;
        }
        while let Ok(n) = core.recv(h, &mut buf) {
            assert_eq!(first_wrong(&buf[..n], 1, up_recv), None, "upstream");
            up_recv += n as u64;
        }
        // Core -> peer.
        while down_sent < len {
            let n = ((len - down_sent) as usize).min(buf.len());
            fill(&mut buf[..n], 2, down_sent);
            match core.send(h, &buf[..n]) {
                Ok(k) => down_sent += k as u64,
                Err(SendError::WouldBlock) => break,
                Err(e) => panic!("send: {e:?}"),
            }
        }
        let ps = peer.tcp(ph);
        while ps.can_recv() {
            let base = down_recv;
            let n = ps
                .recv(|b| {
                    assert_eq!(first_wrong(b, 2, base), None, "downstream");
                    (b.len(), b.len())
                })
                .expect("the peer's connection is open");
            down_recv += n as u64;
        }
    }
    assert_eq!((up_recv, down_recv), (len, len));
    conn.expect("the transfer ran on a connection")
}
