//! The TCP side of the per-core API: listen/accept/connect/recv/send/close, no smoltcp types.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use corenet_nic::{RxQueue, TxQueue};
use smoltcp::socket::tcp::{self, Socket as TcpSocket, State};
use smoltcp::time::Duration;
use smoltcp::wire::{IpEndpoint, IpListenEndpoint, TcpSeqNumber};

use super::{CoreStack, Listener, Origin, Tuple};
use crate::ip::IpAddr;
use crate::ports::AllocError;

/// A connection owned by one core's stack. Stale handles (after `close` completed) are
/// detected and rejected, never aliased to a newer connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpConn {
    pub(super) index: u32,
    pub(super) generation: u32,
    /// The queue (core) whose stack made it: another core's stack rejects it.
    pub(super) owner: u16,
}

impl TcpConn {
    /// The connection's slot in its stack (what the stack's ready list and
    /// [`CoreStack::take_ready`] list): below the stack's connection limit, unique among
    /// its live connections, reused after the connection is freed.
    pub fn slot(self) -> u32 {
        self.index
    }
}

/// Errors from [`CoreStack::listen`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenError {
    /// Port 0.
    BadPort,
    /// This core already listens on the port.
    AlreadyListening,
    /// (`unlisten`) This core does not listen on the port.
    NotListening,
}

/// Errors from [`CoreStack::accept`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcceptError {
    /// This core does not listen on the port.
    NotListening,
    /// No established connection is waiting.
    WouldBlock,
}

/// Errors from [`CoreStack::connect`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectError {
    /// Remote port 0, an unspecified address, or one of a family with no local address (IPv6
    /// without the `ipv6` feature).
    Unaddressable,
    /// The core is at its connection limit.
    TooManyConnections,
    /// No local port steering to this core is free (all held or in TIME-WAIT).
    PortsExhausted,
    /// The heap has no block for the connection's buffers.
    NoMemory,
}

/// Errors from [`CoreStack::recv`] and [`CoreStack::recv_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecvError {
    /// Not a live connection of this core.
    BadHandle,
    /// Nothing to read yet.
    WouldBlock,
    /// The peer closed its side and everything was read.
    Finished,
    /// The connection is closed or was reset.
    Closed,
}

/// Errors from [`CoreStack::send`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// Not a live connection of this core.
    BadHandle,
    /// The send buffer is full (or the handshake is not done).
    WouldBlock,
    /// Sending is no longer possible (closed, reset, or we already closed).
    Closed,
}

/// Errors from [`CoreStack::close`] and [`CoreStack::abort`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseError {
    /// Not a live connection of this core.
    BadHandle,
}

/// A connection's coarse state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnState {
    /// Handshake in progress.
    Connecting,
    /// Both directions open.
    Established,
    /// The peer sent FIN; we may still send.
    PeerClosed,
    /// We closed; waiting for the exchange to finish.
    Closing,
    /// Gone (closed or reset).
    Closed,
}

impl<R: RxQueue, T: TxQueue> CoreStack<R, T> {
    /// Listens on `port`, keeping `backlog` listening sockets ready. Every core listens on
    /// the same ports; the NIC picks the core for each SYN.
    pub fn listen(&mut self, port: u16) -> Result<(), ListenError> {
        if port == 0 {
            return Err(ListenError::BadPort);
        }
        if self.listeners.iter().any(|l| l.port == port) {
            return Err(ListenError::AlreadyListening);
        }
        self.listeners.push(Listener {
            port,
            ready: Vec::new(),
            accept: VecDeque::new(),
            half_open: 0,
            cookies_until_us: 0,
        });
        self.replenish();
        Ok(())
    }

    /// Stops listening on `port`: listening sockets are dropped and connections not yet
    /// accepted are reset. Accepted connections are unaffected.
    pub fn unlisten(&mut self, port: u16) -> Result<(), ListenError> {
        let li = self
            .listeners
            .iter()
            .position(|l| l.port == port)
            .ok_or(ListenError::NotListening)?;
        let l = self.listeners.swap_remove(li);
        // Half-open ones (still Embryonic) are found by `settle` and dropped as their
        // listener is gone; queued ones are reset now.
        for idx in l.accept {
            if let Some(c) = self.slots[idx as usize].conn.as_mut() {
                c.set.get_mut::<TcpSocket>(c.handle).abort();
                c.closed = true;
                c.origin = Origin::Accepted;
            }
            self.mark(idx);
        }
        Ok(())
    }

    /// Tops every listener back up to `backlog` listening sockets.
    pub(super) fn replenish(&mut self) {
        for l in &mut self.listeners {
            while l.ready.len() < self.cfg.backlog {
                // Out of heap: the next SYN makes its own socket or is refused.
                let Some(mut s) = new_socket(&self.cfg) else {
                    break;
                };
                if s.listen(l.port).is_err() {
                    break;
                }
                l.ready.push(s);
            }
        }
    }

    /// The next established connection on `port`.
    pub fn accept(&mut self, port: u16) -> Result<TcpConn, AcceptError> {
        let l = self
            .listeners
            .iter_mut()
            .find(|l| l.port == port)
            .ok_or(AcceptError::NotListening)?;
        let idx = l.accept.pop_front().ok_or(AcceptError::WouldBlock)?;
        let slot = &mut self.slots[idx as usize];
        if let Some(c) = slot.conn.as_mut() {
            c.origin = Origin::Accepted;
        }
        Ok(TcpConn {
            index: idx,
            generation: slot.generation,
            owner: self.dev.rx_queue().queue_index(),
        })
    }

    /// Opens a connection to `remote` (`([u8; 4], port)`, `([u8; 16], port)` or an
    /// [`IpAddr`]) from a local port whose replies the NIC steers back to this core. The SYN
    /// leaves at the next [`poll`](Self::poll).
    pub fn connect<A: Into<IpAddr>>(&mut self, remote: (A, u16)) -> Result<TcpConn, ConnectError> {
        let (addr, rport) = (remote.0.into(), remote.1);
        if rport == 0 || addr.is_unspecified() {
            return Err(ConnectError::Unaddressable);
        }
        if self.live >= self.cfg.max_connections {
            return Err(ConnectError::TooManyConnections);
        }
        let now_us = self.now.total_micros() as u64;
        // Our address for this peer, known before the port so the port can be solved for it.
        let local = match addr {
            IpAddr::V4(_) => IpAddr::V4(self.cfg.ip),
            IpAddr::V6(a) => IpAddr::V6(self.ipv6_source(a).ok_or(ConnectError::Unaddressable)?),
        };
        let (Some(local_sm), Some(remote_sm)) = (local.to_smoltcp(), addr.to_smoltcp()) else {
            return Err(ConnectError::Unaddressable);
        };
        let port = match (local, addr) {
            (IpAddr::V6(l), IpAddr::V6(r)) => self.ports.allocate_v6(l, (r, rport), now_us),
            (IpAddr::V4(l), IpAddr::V4(r)) => self.ports.allocate(l, (r, rport), now_us),
            _ => return Err(ConnectError::Unaddressable),
        }
        .map_err(|AllocError::Exhausted| ConnectError::PortsExhausted)?;
        let tuple = Tuple {
            remote: addr.to_mapped(),
            remote_port: rport,
            local_port: port,
        };
        let Some(mut s) = new_socket(&self.cfg) else {
            let _ = self.ports.release(port, now_us);
            return Err(ConnectError::NoMemory);
        };
        // RFC 6528, as for passive opens.
        let isn = super::keys::isn(&self.keys.isn, &tuple, now_us);
        s.set_initial_sequence(Some(TcpSeqNumber(isn as i32)));
        let ep = IpEndpoint::new(remote_sm, rport);
        // An unconfigured IPv4 stack (0.0.0.0) lets smoltcp pick, as before.
        let local_ep = IpListenEndpoint {
            addr: (!local.is_unspecified()).then_some(local_sm),
            port,
        };
        if s.connect(self.iface.context(), ep, local_ep).is_err() {
            let _ = self.ports.release(port, now_us);
            return Err(ConnectError::Unaddressable);
        }
        self.counters.connected.inc();
        Ok(self.insert_conn(tuple, s, Origin::Connected))
    }

    /// The local port of a connection (for active opens, the one chosen for steering).
    pub fn local_port(&self, c: TcpConn) -> Option<u16> {
        self.user_conn(c).map(|(_, conn)| conn.tuple.local_port)
    }

    /// The remote endpoint of a connection.
    pub fn remote(&self, c: TcpConn) -> Option<(IpAddr, u16)> {
        self.user_conn(c).map(|(_, conn)| {
            (
                IpAddr::from_mapped(conn.tuple.remote),
                conn.tuple.remote_port,
            )
        })
    }

    /// The coarse state of a connection, `None` for a stale handle.
    pub fn state(&self, c: TcpConn) -> Option<ConnState> {
        let (s, _) = self.user_conn(c)?;
        Some(match s.state() {
            State::SynSent | State::SynReceived | State::Listen => ConnState::Connecting,
            State::Established => ConnState::Established,
            State::CloseWait => ConnState::PeerClosed,
            State::Closed | State::TimeWait => ConnState::Closed,
            _ => ConnState::Closing,
        })
    }

    /// Bytes `send` would accept now (0 once our side is closed or the peer reset).
    pub fn send_room(&self, c: TcpConn) -> usize {
        match self.user_conn(c) {
            Some((s, conn)) if !conn.closed && s.may_send() => s.send_capacity() - s.send_queue(),
            _ => 0,
        }
    }

    /// Nagle's algorithm off (`on`: TCP_NODELAY) or back on: a small segment leaves at once
    /// instead of waiting for the previous one's ACK. For request/response protocols whose
    /// replies may leave in parts (a pipeline answered partly now, partly a moment later):
    /// with Nagle the later part waits for the peer's delayed ACK. False for a dead handle.
    pub fn set_nodelay(&mut self, c: TcpConn, on: bool) -> bool {
        match self.user_socket_mut(c, false) {
            Some((s, _)) => {
                s.set_nagle_enabled(!on);
                true
            }
            None => false,
        }
    }

    /// Copies received bytes into `buf`.
    pub fn recv(&mut self, c: TcpConn, buf: &mut [u8]) -> Result<usize, RecvError> {
        self.recv_with(c, |data| {
            let n = data.len().min(buf.len());
            buf[..n].copy_from_slice(&data[..n]);
            n
        })
    }

    /// Zero-copy receive: `f` sees the contiguous received bytes in place in the socket
    /// buffer and returns how many it consumed.
    pub fn recv_with(
        &mut self,
        c: TcpConn,
        f: impl FnOnce(&[u8]) -> usize,
    ) -> Result<usize, RecvError> {
        // Reading stays allowed after `close`: a half-closed connection still delivers what
        // the peer sends until its FIN.
        let (s, b) = self.user_socket_mut(c, true).ok_or(RecvError::BadHandle)?;
        let state = s.state();
        let mut empty = false;
        let r = match s.recv(|data| {
            empty = data.is_empty();
            let n = if empty { 0 } else { f(data).min(data.len()) };
            (n, n)
        }) {
            Ok(0) if empty => Err(RecvError::WouldBlock),
            Ok(n) => Ok(n),
            Err(tcp::RecvError::Finished) => Err(RecvError::Finished),
            Err(_) if matches!(state, State::SynSent | State::SynReceived) => {
                Err(RecvError::WouldBlock)
            }
            Err(_) => Err(RecvError::Closed),
        };
        if r.is_ok() {
            // Reading opens the window: let the stack announce it if it needs to.
            self.mark(b);
        }
        r
    }

    /// Queues bytes for sending; returns how many fit.
    pub fn send(&mut self, c: TcpConn, data: &[u8]) -> Result<usize, SendError> {
        let (s, b) = self.user_socket_mut(c, false).ok_or(SendError::BadHandle)?;
        let r = if !s.may_send() {
            if matches!(s.state(), State::SynSent | State::SynReceived) {
                Err(SendError::WouldBlock)
            } else {
                Err(SendError::Closed)
            }
        } else {
            s.send_slice(data).map_err(|_| SendError::Closed)
        };
        let mut n = r?;
        self.note_written(b, n);
        // A short write on a buffer that bounds the flight: grow it and write on (sndbuf.rs).
        if n < data.len() && self.grow_send_buffer(b) {
            let (s, _) = self.user_socket_mut(c, false).ok_or(SendError::BadHandle)?;
            let more = s.send_slice(&data[n..]).unwrap_or(0);
            self.note_written(b, more);
            n += more;
        }
        if n == 0 && !data.is_empty() {
            return Err(SendError::WouldBlock);
        }
        if n > 0 {
            self.mark(b);
        }
        Ok(n)
    }

    /// Zero-copy send: `f` writes directly into the free space of the socket's send buffer
    /// (the largest contiguous part) and returns how many bytes it wrote.
    pub fn send_with(
        &mut self,
        c: TcpConn,
        f: impl FnOnce(&mut [u8]) -> usize,
    ) -> Result<usize, SendError> {
        let (s, b) = self.user_socket_mut(c, false).ok_or(SendError::BadHandle)?;
        let full = s.may_send() && s.send_queue() >= s.send_capacity();
        // A full buffer that bounds the flight grows before `f` is shown the room (sndbuf.rs).
        if full && !self.grow_send_buffer(b) {
            return Err(SendError::WouldBlock);
        }
        let (s, b) = self.user_socket_mut(c, false).ok_or(SendError::BadHandle)?;
        let r = if !s.may_send() {
            if matches!(s.state(), State::SynSent | State::SynReceived) {
                Err(SendError::WouldBlock)
            } else {
                Err(SendError::Closed)
            }
        } else {
            s.send(|buf| {
                let n = f(buf).min(buf.len());
                (n, n)
            })
            .map_err(|_| SendError::Closed)
        };
        if let Ok(n) = r {
            self.note_written(b, n);
        }
        if matches!(r, Ok(n) if n > 0) {
            self.mark(b);
        }
        r
    }

    /// Closes our side (FIN after queued data). The handle stays valid for reading what the
    /// peer still sends; resources are freed once the connection is fully closed.
    ///
    /// Every accepted or connected handle must end in `close` or [`abort`](Self::abort),
    /// also after the peer reset the connection or an operation returned `Closed`: like a
    /// file descriptor, the connection's slot is freed only then.
    pub fn close(&mut self, c: TcpConn) -> Result<(), CloseError> {
        self.finish(c, false)
    }

    /// Resets the connection (RST) and frees it.
    pub fn abort(&mut self, c: TcpConn) -> Result<(), CloseError> {
        self.finish(c, true)
    }

    fn finish(&mut self, c: TcpConn, abort: bool) -> Result<(), CloseError> {
        let close_timeout = Duration::from_millis(self.cfg.close_timeout_ms);
        // `abort` also resets a connection we already closed (half-closed, still reading).
        let (s, b) = self
            .user_socket_mut(c, abort)
            .ok_or(CloseError::BadHandle)?;
        if abort {
            s.abort();
        } else {
            s.close();
            // An orphan now: a peer silent for this long is gone.
            s.set_keep_alive(None);
            s.set_timeout(Some(close_timeout));
        }
        if let Some(conn) = self.slots[c.index as usize].conn.as_mut() {
            conn.closed = true;
        }
        self.mark(b);
        Ok(())
    }

    fn user_conn(&self, c: TcpConn) -> Option<(&TcpSocket<'static>, &super::Connection)> {
        let slot = self.slots.get(c.index as usize)?;
        let conn = slot.conn.as_ref()?;
        if slot.generation != c.generation
            || c.owner != self.dev.rx_queue().queue_index()
            || !matches!(conn.origin, Origin::Accepted | Origin::Connected)
        {
            return None;
        }
        Some((conn.set.get::<TcpSocket>(conn.handle), conn))
    }

    /// The socket behind a live handle of this core; `after_close` also accepts one the
    /// application already closed.
    fn user_socket_mut(
        &mut self,
        c: TcpConn,
        after_close: bool,
    ) -> Option<(&mut TcpSocket<'static>, u32)> {
        let slot = self.slots.get_mut(c.index as usize)?;
        let conn = slot.conn.as_mut()?;
        if slot.generation != c.generation
            || c.owner != self.dev.rx_queue().queue_index()
            || (conn.closed && !after_close)
            || !matches!(conn.origin, Origin::Accepted | Origin::Connected)
        {
            return None;
        }
        Some((conn.set.get_mut::<TcpSocket>(conn.handle), c.index))
    }

    /// After egress of connection `i`: hand an established passive open to `accept`, drop
    /// a dead half-open one, free a closed connection the application let go of. Returns
    /// whether the connection still exists.
    pub(super) fn settle(&mut self, i: u32) -> bool {
        let Some(conn) = self.slots[i as usize].conn.as_mut() else {
            return false;
        };
        let socket = conn.set.get_mut::<TcpSocket>(conn.handle);
        let state = socket.state();
        if conn.half_open && state != State::SynReceived {
            // Out of the half-open set: established (queued below) or dead (dropped below).
            // (`leave_half_open` inlined: `conn` borrows the slots.)
            conn.half_open = false;
            self.half_open_count = self.half_open_count.saturating_sub(1);
            let port = conn.tuple.local_port;
            if let Some(l) = self.listeners.iter_mut().find(|l| l.port == port) {
                l.half_open = l.half_open.saturating_sub(1);
            }
        }
        if conn.handshaking && !matches!(state, State::SynSent | State::SynReceived) {
            // Past the handshake: keep-alive probes (armed since the socket was made) keep a
            // healthy idle connection alive, each answer counting as heard from; three
            // silent intervals abort it.
            socket.set_timeout(socket.keep_alive().map(|k| k * 3));
            conn.handshaking = false;
        }
        match conn.origin {
            Origin::Embryonic(port) => match state {
                State::SynReceived => {}
                State::Established | State::CloseWait => {
                    let Some(l) = self.listeners.iter_mut().find(|l| l.port == port) else {
                        // The port stopped listening meanwhile.
                        conn.set.get_mut::<TcpSocket>(conn.handle).abort();
                        conn.closed = true;
                        conn.origin = Origin::Accepted;
                        self.mark(i);
                        return true;
                    };
                    conn.origin = Origin::Queued;
                    l.accept.push_back(i);
                    self.counters.accepted.inc();
                    if let Some(t) = conn.auto_from_us.take() {
                        self.size_to_path(i, t);
                    }
                }
                _ => {
                    self.counters.embryonic_dropped.inc();
                    self.remove_conn(i);
                    return false;
                }
            },
            _ if conn.closed && state == State::Closed => {
                self.remove_conn(i);
                return false;
            }
            _ => {}
        }
        true
    }
}

/// A socket with this core's buffers and timers: the handshake timeout until
/// [`CoreStack::settle`] replaces it, and keep-alive, set before `listen`/`connect` (whose
/// reset leaves it armed from the handshake on, not at once). `None` when the heap has no
/// block for its buffers: a peer's SYN or an application's connect then fails, not the core.
pub(super) fn new_socket(cfg: &super::StackConfig) -> Option<TcpSocket<'static>> {
    new_socket_sized(cfg, cfg.tcp_buffer)
}

/// [`new_socket`] with buffers of `size` bytes each way.
pub(super) fn new_socket_sized(
    cfg: &super::StackConfig,
    size: usize,
) -> Option<TcpSocket<'static>> {
    let (rx, tx) = (
        super::autosize::zeroed(size)?,
        super::autosize::zeroed(size)?,
    );
    let mut s = TcpSocket::new(tcp::SocketBuffer::new(rx), tcp::SocketBuffer::new(tx));
    if cfg.tcp_buffer_auto_max > size {
        // The scale is fixed at the SYN: offer the one the grown buffer will need.
        s.set_rx_buffer_max(cfg.tcp_buffer_auto_max);
    }
    s.set_timeout(Some(Duration::from_millis(cfg.handshake_timeout_ms)));
    s.set_keep_alive((cfg.keepalive_ms > 0).then(|| Duration::from_millis(cfg.keepalive_ms)));
    s.set_congestion_control(cfg.tcp_cc.smoltcp());
    s.set_min_rto(Duration::from_millis(cfg.tcp_rto_min_ms));
    // Pacing (`tcp_pacing`) is turned on once a handshake shows a long path (autosize.rs).
    s.set_hystart(cfg.tcp_hystart);
    Some(s)
}
