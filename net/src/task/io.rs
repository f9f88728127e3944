//! Awaitable socket operations for tasks: accept, read, write_all on an owned connection.
//!
//! Each is a `poll_fn` around the non-blocking [`Sockets`] call: `WouldBlock` is
//! `Poll::Pending` (read and write register the connection, so the task is polled again
//! when it has an event; accept is polled every pass), anything else is ready.
//! The errors are the [`Sockets`] ones. While the stack is borrowed elsewhere (never the
//! case under [`Executor::run`](super::Executor::run)) an operation stays pending.

use core::future::poll_fn;
use core::task::Poll;

use super::Io;
use crate::stack::{AcceptError, RecvError, SendError};
use crate::stack::{Conn, Sockets};

/// An owned connection for `async` code: dropping it closes the connection (like [`Conn`]).
pub struct AsyncConn {
    conn: Conn,
    io: Io,
}

impl core::fmt::Debug for AsyncConn {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("AsyncConn").field(&self.conn).finish()
    }
}

impl Io {
    /// Waits for the next established connection on `port` (listened on beforehand).
    pub async fn accept(&self, port: u16) -> Result<AsyncConn, AcceptError> {
        poll_fn(|_| match self.with(|s| s.accept(port)) {
            Some(Ok(conn)) => Poll::Ready(Ok(AsyncConn {
                conn,
                io: self.clone(),
            })),
            Some(Err(AcceptError::WouldBlock)) | None => Poll::Pending,
            Some(Err(e)) => Poll::Ready(Err(e)),
        })
        .await
    }
}

impl AsyncConn {
    /// Waits for received bytes and copies them into `buf`; `Ok(0)` once the peer has
    /// closed its side and everything was read (or if `buf` is empty).
    pub async fn read(&mut self, buf: &mut [u8]) -> Result<usize, RecvError> {
        if buf.is_empty() {
            return Ok(0);
        }
        let conn = &self.conn;
        poll_fn(|_| match self.io.with(|s| s.recv(conn, buf)) {
            Some(Ok(n)) => Poll::Ready(Ok(n)),
            Some(Err(RecvError::Finished)) => Poll::Ready(Ok(0)),
            Some(Err(RecvError::WouldBlock)) => {
                self.io.wait_on(conn);
                Poll::Pending
            }
            None => Poll::Pending,
            Some(Err(e)) => Poll::Ready(Err(e)),
        })
        .await
    }

    /// Queues all of `data` for sending, waiting for send-buffer room as needed.
    pub async fn write_all(&mut self, mut data: &[u8]) -> Result<(), SendError> {
        let conn = &self.conn;
        poll_fn(|_| {
            while !data.is_empty() {
                match self.io.with(|s| s.send(conn, data)) {
                    Some(Ok(0)) | Some(Err(SendError::WouldBlock)) => {
                        self.io.wait_on(conn);
                        return Poll::Pending;
                    }
                    None => return Poll::Pending,
                    Some(Ok(n)) => data = &data[n..],
                    Some(Err(e)) => return Poll::Ready(Err(e)),
                }
            }
            Poll::Ready(Ok(()))
        })
        .await
    }

    /// Runs `f` on the core's sockets with this connection (for what has no `async` form:
    /// `remote`, `shutdown`, ...); `None` if the stack is borrowed elsewhere.
    pub fn with<R>(&self, f: impl FnOnce(&mut dyn Sockets, &Conn) -> R) -> Option<R> {
        self.io.with(|s| f(s, &self.conn))
    }

    /// The owned handle, for the poll API.
    pub fn into_conn(self) -> Conn {
        self.conn
    }
}
