//! One proxied connection: client <-> backend, bytes copied both ways with back-pressure.
//!
//! Each direction owns a bounded buffer. A side is read only while the buffer has room, so
//! when the receiving side's send buffer is full the buffer fills, reading stops, and the
//! sender's TCP window closes: memory per connection is bounded by two buffers whatever the
//! peers do. FIN from one side is forwarded (our `close` towards the other side) once that
//! direction's buffer has drained; the other direction keeps flowing until its own FIN
//! (half-close). A reset or error on either side aborts both. The pipe owns both
//! connections: dropping it closes whatever is still open.

use alloc::vec::Vec;

use corenet::prelude::{Conn, ConnState, RecvError, SendError, Sockets};

/// Bytes buffered per direction at most.
pub const PIPE_BUFFER: usize = 16 * 1024;

/// One direction's state.
#[derive(Debug, Default)]
struct Half {
    /// Read from the source, not yet accepted by the destination's send buffer.
    buf: Vec<u8>,
    /// The source sent FIN and everything before it was read.
    eof: bool,
    /// We closed the destination (forwarded the FIN).
    shut: bool,
}

/// What became of a pipe after [`Pipe::pump`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Still relaying.
    Open,
    /// Both directions finished with FIN; both sides are closed (the stack completes the
    /// closing handshakes and frees them).
    Done,
    /// The backend connection failed before it was established; the client was closed.
    ConnectFailed,
    /// A side was reset or failed; both were aborted.
    Aborted,
}

/// What one [`Pipe::pump`] moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Moved {
    /// Bytes queued towards the backend.
    pub up: usize,
    /// Bytes queued towards the client.
    pub down: usize,
}

/// A client connection and the backend connection opened for it, on the same core.
#[derive(Debug)]
pub struct Pipe {
    client: Conn,
    backend: Conn,
    /// Client -> backend.
    up: Half,
    /// Backend -> client.
    down: Half,
    /// The backend handshake completed.
    connected: bool,
    cap: usize,
}

/// A side failed: reset, or the handle died under us.
struct Broken;

impl Pipe {
    /// A pipe between an accepted `client` and a `backend` just opened with `connect`,
    /// buffering at most `cap` bytes per direction.
    pub fn new(client: Conn, backend: Conn, cap: usize) -> Self {
        Self {
            client,
            backend,
            up: Half::default(),
            down: Half::default(),
            connected: false,
            cap: cap.max(1),
        }
    }

    /// The client connection.
    pub fn client(&self) -> &Conn {
        &self.client
    }

    /// The backend connection.
    pub fn backend(&self) -> &Conn {
        &self.backend
    }

    /// Moves what can be moved now, in both directions. Call after every stack poll;
    /// cheap when nothing is pending.
    pub fn pump(&mut self, s: &mut dyn Sockets) -> (Outcome, Moved) {
        let mut moved = Moved::default();
        if !self.connected {
            match s.state(&self.backend) {
                Some(ConnState::Connecting) => {}
                Some(ConnState::Closed) | None => {
                    // Refused, reset or timed out during the handshake.
                    s.reset(&self.backend);
                    let _ = s.shutdown(&self.client);
                    return (Outcome::ConnectFailed, moved);
                }
                Some(_) => self.connected = true,
            }
        }
        let (client, backend, cap) = (&self.client, &self.backend, self.cap);
        // The client's FIN is forwarded only once the backend is established: closing a
        // connection in SYN-SENT drops it instead of sending FIN.
        let connected = self.connected;
        let r = relay(s, client, backend, &mut self.up, cap, connected).and_then(|up| {
            moved.up = up;
            relay(s, backend, client, &mut self.down, cap, true)
        });
        match r {
            Ok(down) => moved.down = down,
            Err(Broken) => {
                s.reset(&self.client);
                s.reset(&self.backend);
                return (Outcome::Aborted, moved);
            }
        }
        if self.up.shut && self.down.shut {
            return (Outcome::Done, moved);
        }
        (Outcome::Open, moved)
    }

    /// Bytes held in the pipe's two buffers now (at most twice the `cap` given to `new`).
    pub fn buffered(&self) -> usize {
        self.up.buf.len() + self.down.buf.len()
    }

    /// Resets both sides (shutdown, or the application giving up on the pipe).
    pub fn abort(self, s: &mut dyn Sockets) {
        s.abort(self.client);
        s.abort(self.backend);
    }
}

/// One direction: read `src` into `h.buf` as far as it has room, queue `h.buf` on `dst` as
/// far as its send buffer accepts, forward FIN when drained (and `may_shut`). Returns the
/// bytes queued.
fn relay(
    s: &mut dyn Sockets,
    src: &Conn,
    dst: &Conn,
    h: &mut Half,
    cap: usize,
    may_shut: bool,
) -> Result<usize, Broken> {
    let mut sent = 0;
    // Two rounds: a wrapped receive ring hands out its bytes in two contiguous pieces.
    for _ in 0..2 {
        if !h.eof && h.buf.len() < cap {
            let room = cap - h.buf.len();
            match s.recv_with(src, &mut |data| {
                let n = data.len().min(room);
                h.buf.extend_from_slice(&data[..n]);
                n
            }) {
                Ok(_) | Err(RecvError::WouldBlock) => {}
                Err(RecvError::Finished) => h.eof = true,
                Err(RecvError::Closed | RecvError::BadHandle) => return Err(Broken),
            }
        }
        if !h.buf.is_empty() {
            match s.send(dst, &h.buf) {
                Ok(n) => {
                    h.buf.drain(..n);
                    sent += n;
                }
                // Backend still connecting, or the destination's send buffer is full.
                Err(SendError::WouldBlock) => break,
                Err(SendError::Closed | SendError::BadHandle) => return Err(Broken),
            }
        } else {
            break;
        }
    }
    if may_shut && h.eof && h.buf.is_empty() && !h.shut {
        s.shutdown(dst).map_err(|_| Broken)?;
        h.shut = true;
    }
    Ok(sent)
}
