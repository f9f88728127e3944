//! Owned connection handles ([`Conn`]) and the queue-agnostic socket API ([`Sockets`]).
//!
//! [`TcpConn`] is a `Copy` index: every path that lets go of one must remember `close`, or
//! the connection's slot stays taken until the peer gives up. A [`Conn`] owns its
//! connection: dropping it closes it (FIN after what was queued, like `close`), so an early
//! return or a `?` cannot leak the slot. Drop cannot reach the stack, so it leaves the handle
//! on the stack's release list, which the stack drains at the start of each poll half (the
//! FIN of a connection dropped between `poll_ingress` and `poll_egress` leaves in that
//! egress).
//!
//! [`Sockets`] is the TCP/UDP API over owned handles, implemented by every
//! [`CoreStack`] whatever its queue types, and object safe: application code takes
//! `&mut dyn Sockets` (or `&mut impl Sockets`) and never names a driver or queue type.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};

use corenet_nic::{RxQueue, TxQueue};

use super::CoreStack;
use super::tcp::{
    AcceptError, CloseError, ConnState, ConnectError, ListenError, RecvError, SendError, TcpConn,
};
use super::udp::{UdpBindError, UdpRecvError, UdpSendError, UdpSocket};
use crate::config::Ipv4Config;
use crate::counters::NetCounters;
use crate::ip::IpAddr;

/// Handles dropped by the application, waiting for their stack to close them. Shared by a
/// stack and its handles; only ever touched by the core owning both (the lock is uncontended
/// and exists because a `Conn`, like the stack, may be moved to another thread in tests).
#[derive(Default)]
pub(super) struct Releases {
    pending: AtomicBool,
    list: spin::Mutex<Vec<TcpConn>>,
}

/// An index no slot has: marks a handle already given back.
const GONE: u32 = u32::MAX;

/// A TCP connection owned by the application: not `Copy`, closed when dropped.
///
/// Use it with the [`Sockets`] of the stack that made it (another stack rejects it as a bad
/// handle). [`Sockets::close`] and [`Sockets::abort`] end it at once; dropping it is `close`
/// at the stack's next poll.
#[must_use = "dropping a connection closes it"]
pub struct Conn {
    raw: TcpConn,
    releases: Arc<Releases>,
}

impl core::fmt::Debug for Conn {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("Conn").field(&self.raw).finish()
    }
}

impl Conn {
    /// The connection's raw id, for logs and for [`CoreStack`]'s raw API (whose handles
    /// must be closed by hand).
    pub fn id(&self) -> TcpConn {
        self.raw
    }

    /// The connection's slot, what [`Sockets::take_ready`] lists: an index below the
    /// stack's connection limit, for a table of the application's per-connection state.
    pub fn slot(&self) -> u32 {
        self.raw.slot()
    }

    /// Lets the handle go without queuing it for release (it was closed already).
    fn disarm(mut self) {
        self.raw.index = GONE;
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if self.raw.index != GONE {
            self.releases.list.lock().push(self.raw);
            self.releases.pending.store(true, Ordering::Release);
        }
    }
}

impl<R: RxQueue, T: TxQueue> CoreStack<R, T> {
    /// Closes the connections whose [`Conn`] was dropped since the last call.
    #[inline(always)]
    pub(super) fn release_dropped(&mut self) {
        // A plain load on the per-packet path; the rest only when there is work.
        if self.releases.pending.load(Ordering::Relaxed) {
            self.release_dropped_slow();
        }
    }

    #[cold]
    #[inline(never)]
    fn release_dropped_slow(&mut self) {
        if !self.releases.pending.swap(false, Ordering::Acquire) {
            return;
        }
        let dropped = core::mem::take(&mut *self.releases.list.lock());
        for c in dropped {
            // A handle already closed or aborted is stale here: nothing to do.
            let _ = self.close(c);
        }
    }

    fn own(&self, raw: TcpConn) -> Conn {
        Conn {
            raw,
            releases: self.releases.clone(),
        }
    }
}

/// What [`Sockets::drain_with`] asks its closure.
#[derive(Debug)]
pub enum Drain<'a> {
    /// How many bytes it takes now; 0: none (the connection is not even looked at).
    Room,
    /// Received bytes, in place: return how many it took.
    Bytes(&'a [u8]),
}

/// How a [`Sockets::drain_with`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Drained {
    /// Bytes taken.
    pub took: usize,
    /// Bytes may be left in the connection (the closure had no room, or took fewer than it
    /// was shown): read again once it has room, whatever [`Sockets::take_ready`] says.
    pub left: bool,
    /// [`RecvError::Finished`] (the peer's FIN, every byte before it taken), or the
    /// connection is gone (`Closed`, `BadHandle`); `None` otherwise.
    pub end: Option<RecvError>,
}

/// One core's TCP/UDP API over owned handles, whatever the queues underneath.
///
/// Every method is that of [`CoreStack`] of the same name; the differences are the owned
/// [`Conn`] and [`shutdown`](Self::shutdown) (the raw API's `close` that keeps the handle).
pub trait Sockets {
    /// Listens on `port` (every core listens on the same ports; the NIC picks the core).
    fn listen(&mut self, port: u16) -> Result<(), ListenError>;
    /// The next established connection on `port`.
    fn accept(&mut self, port: u16) -> Result<Conn, AcceptError>;
    /// Opens a connection to `remote` from a local port whose replies reach this core.
    fn connect(&mut self, remote: (IpAddr, u16)) -> Result<Conn, ConnectError>;
    /// The connection's coarse state; `None` if the handle is not this stack's.
    fn state(&self, c: &Conn) -> Option<ConnState>;
    /// The peer's address and port.
    fn remote(&self, c: &Conn) -> Option<(IpAddr, u16)>;
    /// Copies received bytes into `buf`.
    fn recv(&mut self, c: &Conn, buf: &mut [u8]) -> Result<usize, RecvError>;
    /// Zero-copy receive: `f` sees received bytes in place and returns how many it took.
    fn recv_with(
        &mut self,
        c: &Conn,
        f: &mut dyn FnMut(&[u8]) -> usize,
    ) -> Result<usize, RecvError>;
    /// Queues bytes for sending; returns how many fit.
    fn send(&mut self, c: &Conn, data: &[u8]) -> Result<usize, SendError>;
    /// Bytes [`send`](Self::send) would accept now (read no more than this to echo).
    fn send_room(&self, c: &Conn) -> usize;
    /// Nagle's algorithm off (`on`) or on for this connection (TCP_NODELAY); false for a dead
    /// handle.
    fn set_nodelay(&mut self, c: &Conn, on: bool) -> bool;
    /// Reads `c` for as long as `f` takes everything it is shown: [`recv_with`](Self::recv_with)
    /// shows the bytes up to the receive ring's end, and those past the wrap come with no
    /// segment of their own (a pass driven by [`take_ready`](Self::take_ready) would not
    /// see them until the next segment or timer). `f` is asked for its room before each
    /// read (0: stop, without looking at the connection); see [`Drained`].
    fn drain_with(&mut self, c: &Conn, f: &mut dyn FnMut(Drain<'_>) -> usize) -> Drained {
        let mut d = Drained::default();
        // Twice at most: the ring hands out its bytes in two contiguous pieces at most.
        for _ in 0..2 {
            if f(Drain::Room) == 0 {
                d.left = true;
                return d;
            }
            let mut all = false;
            let r = self.recv_with(c, &mut |data| {
                let n = f(Drain::Bytes(data)).min(data.len());
                all = n == data.len();
                n
            });
            match r {
                Ok(n) => {
                    d.took += n;
                    d.left = !all;
                    if all && n > 0 {
                        continue;
                    }
                }
                Err(RecvError::WouldBlock) => {}
                Err(e) => d.end = Some(e),
            }
            return d;
        }
        d
    }
    /// Zero-copy send: `f` fills free send-buffer space in place and returns how much.
    fn send_with(
        &mut self,
        c: &Conn,
        f: &mut dyn FnMut(&mut [u8]) -> usize,
    ) -> Result<usize, SendError>;
    /// Sends FIN after what is queued and keeps the handle for reading what the peer still
    /// sends (half-close); the connection ends when the handle is dropped or closed too.
    fn shutdown(&mut self, c: &Conn) -> Result<(), CloseError>;
    /// Closes the connection now (FIN after what is queued); its slot is freed once the
    /// closing handshake ends (bounded by the stack's close timeout).
    fn close(&mut self, c: Conn);
    /// Resets the connection (RST) and frees it.
    fn abort(&mut self, c: Conn);
    /// [`abort`](Self::abort) through a reference, for a handle about to be dropped where it
    /// cannot be moved out (a `retain` callback): the handle is dead afterwards.
    fn reset(&mut self, c: &Conn);
    /// Binds a UDP socket on `port`.
    fn udp_bind(&mut self, port: u16) -> Result<UdpSocket, UdpBindError>;
    /// Queues a datagram to `to`; it leaves at the next poll.
    fn udp_send_to(
        &mut self,
        sock: UdpSocket,
        data: &[u8],
        to: (IpAddr, u16),
    ) -> Result<(), UdpSendError>;
    /// The next datagram: its length and sender.
    fn udp_recv_from(
        &mut self,
        sock: UdpSocket,
        buf: &mut [u8],
    ) -> Result<(usize, (IpAddr, u16)), UdpRecvError>;
    /// Appends the slots ([`Conn::slot`]) of the connections with news since the last call
    /// (bytes, FIN, reset, freed send room, a timer that may have ended it), each once, so
    /// a pass visits those rather than every connection. Not listed: a connection that
    /// only the application itself can move on (its own buffered input, a reply from
    /// elsewhere) and one the application has not accepted yet (visit a new connection
    /// when accepting it). A slot may name a connection the application let go: ignore it.
    fn take_ready(&mut self, out: &mut Vec<u32>);
    /// Connections this core holds (all states, the handshaking ones too).
    fn connections(&self) -> usize;
    /// Of those, the passive opens still in SYN-RECEIVED.
    fn half_open(&self) -> usize;
    /// This core's network counters.
    fn counters(&self) -> &NetCounters;
    /// The IPv4 address in use, if configured.
    fn ipv4_config(&self) -> Option<Ipv4Config>;
}

impl<R: RxQueue, T: TxQueue> Sockets for CoreStack<R, T> {
    fn listen(&mut self, port: u16) -> Result<(), ListenError> {
        CoreStack::listen(self, port)
    }
    fn accept(&mut self, port: u16) -> Result<Conn, AcceptError> {
        CoreStack::accept(self, port).map(|raw| self.own(raw))
    }
    fn connect(&mut self, remote: (IpAddr, u16)) -> Result<Conn, ConnectError> {
        CoreStack::connect(self, remote).map(|raw| self.own(raw))
    }
    fn state(&self, c: &Conn) -> Option<ConnState> {
        CoreStack::state(self, c.raw)
    }
    fn remote(&self, c: &Conn) -> Option<(IpAddr, u16)> {
        CoreStack::remote(self, c.raw)
    }
    fn recv(&mut self, c: &Conn, buf: &mut [u8]) -> Result<usize, RecvError> {
        CoreStack::recv(self, c.raw, buf)
    }
    fn set_nodelay(&mut self, c: &Conn, on: bool) -> bool {
        CoreStack::set_nodelay(self, c.raw, on)
    }
    fn recv_with(
        &mut self,
        c: &Conn,
        f: &mut dyn FnMut(&[u8]) -> usize,
    ) -> Result<usize, RecvError> {
        CoreStack::recv_with(self, c.raw, f)
    }
    fn send(&mut self, c: &Conn, data: &[u8]) -> Result<usize, SendError> {
        CoreStack::send(self, c.raw, data)
    }
    fn send_room(&self, c: &Conn) -> usize {
        CoreStack::send_room(self, c.raw)
    }
    fn send_with(
        &mut self,
        c: &Conn,
        f: &mut dyn FnMut(&mut [u8]) -> usize,
    ) -> Result<usize, SendError> {
        CoreStack::send_with(self, c.raw, f)
    }
    fn shutdown(&mut self, c: &Conn) -> Result<(), CloseError> {
        CoreStack::close(self, c.raw)
    }
    fn close(&mut self, c: Conn) {
        // Refused (shut down before, or another stack's handle): the handle's own drop
        // queues it on the stack that made it, which closes it if it still can.
        if CoreStack::close(self, c.raw).is_ok() {
            c.disarm();
        }
    }
    fn abort(&mut self, c: Conn) {
        if CoreStack::abort(self, c.raw).is_ok() {
            c.disarm();
        }
    }
    fn reset(&mut self, c: &Conn) {
        let _ = CoreStack::abort(self, c.raw);
    }
    fn udp_bind(&mut self, port: u16) -> Result<UdpSocket, UdpBindError> {
        CoreStack::udp_bind(self, port)
    }
    fn udp_send_to(
        &mut self,
        sock: UdpSocket,
        data: &[u8],
        to: (IpAddr, u16),
    ) -> Result<(), UdpSendError> {
        CoreStack::udp_send_to(self, sock, data, to)
    }
    fn udp_recv_from(
        &mut self,
        sock: UdpSocket,
        buf: &mut [u8],
    ) -> Result<(usize, (IpAddr, u16)), UdpRecvError> {
        CoreStack::udp_recv_from(self, sock, buf)
    }
    fn take_ready(&mut self, out: &mut Vec<u32>) {
        CoreStack::take_ready(self, out)
    }
    fn connections(&self) -> usize {
        CoreStack::connections(self)
    }
    fn half_open(&self) -> usize {
        CoreStack::half_open(self)
    }
    fn counters(&self) -> &NetCounters {
        CoreStack::counters(self)
    }
    fn ipv4_config(&self) -> Option<Ipv4Config> {
        CoreStack::ipv4_config(self)
    }
}
