//! The UDP side of the per-core API: bind, send_to, recv_from.
//!
//! Datagram sockets live in one small per-core set (few sockets, so no bucketing). RSS
//! steers a datagram by its 4-tuple: a reply to a datagram sent from one core may arrive on
//! another; servers that bind the same port on every core see each peer on one core.

use alloc::vec;

use corenet_nic::{RxQueue, TxQueue};
use smoltcp::iface::SocketHandle;
use smoltcp::socket::udp::{self, Socket};
use smoltcp::wire::IpEndpoint;

use super::CoreStack;
use crate::ip::IpAddr;

/// Datagrams (and bytes, in 1500-byte units) each direction buffers.
const QUEUE: usize = 64;

/// A bound UDP socket of one core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpSocket {
    handle: SocketHandle,
    port: u16,
    /// The queue (core) whose stack made it.
    owner: u16,
}

/// Errors from [`CoreStack::udp_bind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UdpBindError {
    /// Port 0.
    BadPort,
    /// Already bound on this core.
    InUse,
}

/// Errors from [`CoreStack::udp_send_to`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UdpSendError {
    /// Not a bound socket of this core.
    BadHandle,
    /// Port 0 or unspecified address.
    Unaddressable,
    /// The send queue is full, or the datagram is larger than it.
    WouldBlock,
}

/// Errors from [`CoreStack::udp_recv_from`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UdpRecvError {
    /// Not a bound socket of this core.
    BadHandle,
    /// Nothing received.
    WouldBlock,
    /// The datagram did not fit in the buffer; it was dropped.
    Truncated,
}

/// Errors from [`CoreStack::udp_close`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UdpCloseError {
    /// Not a bound socket of this core.
    BadHandle,
}

impl<R: RxQueue, T: TxQueue> CoreStack<R, T> {
    /// Binds `port` on this core.
    pub fn udp_bind(&mut self, port: u16) -> Result<UdpSocket, UdpBindError> {
        if port == 0 {
            return Err(UdpBindError::BadPort);
        }
        let taken = self.dgram.iter().any(
            |(_, s)| matches!(s, smoltcp::socket::Socket::Udp(u) if u.endpoint().port == port),
        );
        if taken {
            return Err(UdpBindError::InUse);
        }
        let buf = || {
            udp::PacketBuffer::new(
                vec![udp::PacketMetadata::EMPTY; QUEUE],
                vec![0u8; QUEUE * 1500],
            )
        };
        let mut s = Socket::new(buf(), buf());
        s.bind(port).map_err(|_| UdpBindError::BadPort)?;
        Ok(UdpSocket {
            handle: self.dgram.add(s),
            port,
            owner: self.dev.rx_queue().queue_index(),
        })
    }

    /// Queues a datagram to `to` (`([u8; 4], port)`, `([u8; 16], port)` or an [`IpAddr`]);
    /// it leaves at the next poll.
    pub fn udp_send_to<A: Into<IpAddr>>(
        &mut self,
        sock: UdpSocket,
        data: &[u8],
        to: (A, u16),
    ) -> Result<(), UdpSendError> {
        let addr =
            to.0.into()
                .to_smoltcp()
                .ok_or(UdpSendError::Unaddressable)?;
        let ep = IpEndpoint::new(addr, to.1);
        self.udp_socket(sock)
            .ok_or(UdpSendError::BadHandle)?
            .send_slice(data, ep)
            .map_err(|e| match e {
                udp::SendError::Unaddressable => UdpSendError::Unaddressable,
                udp::SendError::BufferFull => UdpSendError::WouldBlock,
            })
    }

    /// The next datagram: its length and sender.
    pub fn udp_recv_from(
        &mut self,
        sock: UdpSocket,
        buf: &mut [u8],
    ) -> Result<(usize, (IpAddr, u16)), UdpRecvError> {
        let (n, meta) = self
            .udp_socket(sock)
            .ok_or(UdpRecvError::BadHandle)?
            .recv_slice(buf)
            .map_err(|e| match e {
                udp::RecvError::Exhausted => UdpRecvError::WouldBlock,
                udp::RecvError::Truncated => UdpRecvError::Truncated,
            })?;
        Ok((
            n,
            (IpAddr::from_smoltcp(meta.endpoint.addr), meta.endpoint.port),
        ))
    }

    /// Unbinds a socket; its handle becomes invalid.
    pub fn udp_close(&mut self, sock: UdpSocket) -> Result<(), UdpCloseError> {
        self.udp_socket(sock).ok_or(UdpCloseError::BadHandle)?;
        self.dgram.remove(sock.handle);
        Ok(())
    }

    /// The socket behind a handle, if the handle is one of ours and still bound. Checked
    /// without indexing by the handle (smoltcp panics on foreign handles).
    fn udp_socket(&mut self, sock: UdpSocket) -> Option<&mut Socket<'static>> {
        if sock.owner != self.dev.rx_queue().queue_index() {
            return None;
        }
        self.dgram.iter_mut().find_map(|(h, s)| match s {
            smoltcp::socket::Socket::Udp(u)
                if h == sock.handle && u.endpoint().port == sock.port =>
            {
                Some(u)
            }
            _ => None,
        })
    }
}
