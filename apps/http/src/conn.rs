//! One HTTP connection: bounded input and output, pipelined requests answered in order with
//! back-pressure, keep-alive.
//!
//! Memory per connection is bounded whatever the client does: input holds at most one request
//! (head and body), and requests are parsed only while the unsent output is below
//! [`Limits::max_out`], so a client that pipelines requests without reading leaves them in
//! its TCP receive window (flow control pushes back on it) instead of in our heap. Output is
//! compacted before each response is appended, so its size is the unsent bytes, not
//! everything ever sent. Every growth is charged to the core's [`Pool`] and may fail: the
//! caller then sheds the connection.

use alloc::vec::Vec;

use crate::budget::{GrowError, Pool, release, shrink, try_grow};
use crate::request::{Method, Parse, ParseError, Request, parse_needing};
use crate::response::{Body, Response, Status};
use crate::timers::Phase;

/// Bytes appended at a time to a buffered partial request.
const CHUNK: usize = 1024;

/// Bounds that keep a connection's memory fixed whatever the client sends.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest request head.
    pub max_head: usize,
    /// Largest request body (bodies are read and discarded).
    pub max_body: usize,
    /// Unsent output above which no further request is parsed and no input read
    /// (back-pressure). Output never exceeds this plus one response.
    pub max_out: usize,
    /// Output capacity kept between requests (more is given back to the pool).
    pub keep_out: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_head: 8 * 1024,
            max_body: 64 * 1024,
            max_out: 16 * 1024,
            keep_out: 2 * 1024,
        }
    }
}

impl Limits {
    /// Largest input a connection buffers: one whole request.
    pub fn max_input(&self) -> usize {
        self.max_head + 4 + self.max_body
    }

    /// A connection's buffers at most, given the largest response the router makes.
    pub fn max_memory(&self, largest_response: usize) -> usize {
        self.max_input() + self.max_out + largest_response
    }
}

/// The rest of a streamed body: `left` bytes of `pattern` repeated, from offset `at`.
#[derive(Debug)]
struct Stream {
    pattern: &'static [u8],
    at: usize,
    left: usize,
}

/// A connection's protocol state.
#[derive(Debug, Default)]
pub struct Conn {
    input: Vec<u8>,
    out: Vec<u8>,
    sent: usize,
    closing: bool,
    peer_done: bool,
    /// Input length before which the buffered partial request cannot be complete (its body
    /// is still arriving): it is not parsed again until then.
    need: usize,
    /// A [`Body::Repeat`] being sent after the buffered output: nothing of it is buffered.
    stream: Option<Stream>,
    /// Requests answered on this connection.
    pub requests: u64,
}

impl Conn {
    /// A fresh connection.
    pub fn new() -> Self {
        Self::default()
    }

    fn pending(&self) -> usize {
        self.out.len() - self.sent
    }

    /// Output is at its bound, or a streamed body is still being sent (the next response
    /// must wait for it): no request is parsed and no input read.
    fn full(&self, l: &Limits) -> bool {
        self.stream.is_some() || self.pending() >= l.max_out
    }

    /// How many more input bytes the connection accepts now (0: stop reading).
    pub fn input_room(&self, l: &Limits) -> usize {
        if self.closing || self.peer_done || self.full(l) {
            return 0;
        }
        l.max_input().saturating_sub(self.input.len())
    }

    /// Takes received bytes (at most [`input_room`](Self::input_room)) and answers every
    /// complete request through `route` while output is below its bound. Returns how many
    /// bytes it took: requests that arrive while output is at its bound are left unread (in
    /// the TCP receive window) rather than buffered. An error means a buffer could not grow:
    /// shed the connection (and [`release`](Self::release) it).
    pub fn on_input(
        &mut self,
        data: &[u8],
        l: &Limits,
        pool: &mut Pool,
        route: &mut dyn FnMut(&Request<'_>) -> Response,
    ) -> Result<usize, GrowError> {
        if self.closing || data.is_empty() {
            return self.pump(l, pool, route).map(|_| 0);
        }
        let mut at = 0;
        while at < data.len() {
            // Buffered complete requests first: then the buffer holds a partial request at
            // most, and only that is ever extended.
            self.pump(l, pool, route)?;
            if self.closing {
                return Ok(data.len());
            }
            if self.full(l) {
                return Ok(at);
            }
            if self.input.is_empty() {
                // Nothing buffered: parse in place and keep only a partial request at the end.
                at += self.answer(&data[at..], l, pool, route)?;
                if self.closing || at == data.len() || self.full(l) {
                    continue;
                }
                let rest = &data[at..];
                try_grow(&mut self.input, rest.len(), l.max_input(), pool)?;
                self.input.extend_from_slice(rest);
                return Ok(data.len());
            }
            // Completing the partial request a chunk at a time, so what follows it is parsed
            // in place (or left in the window) rather than copied.
            let n = (data.len() - at).min(CHUNK);
            try_grow(&mut self.input, n, l.max_input(), pool)?;
            self.input.extend_from_slice(&data[at..at + n]);
            at += n;
        }
        self.pump(l, pool, route)?;
        Ok(data.len())
    }

    /// Answers requests already buffered (after output drained below its bound). Cheap when
    /// there is nothing to do; call it every pass.
    pub fn pump(
        &mut self,
        l: &Limits,
        pool: &mut Pool,
        route: &mut dyn FnMut(&Request<'_>) -> Response,
    ) -> Result<(), GrowError> {
        if self.input.is_empty() {
            if self.peer_done {
                self.closing = true;
            }
            return Ok(());
        }
        if self.closing || self.full(l) {
            return Ok(());
        }
        if !self.peer_done && self.input.len() < self.need {
            return Ok(());
        }
        let mut input = core::mem::take(&mut self.input);
        let r = self.answer(&input, l, pool, route);
        if let Ok(used) = r {
            input.drain(..used);
        }
        self.input = input;
        if self.closing {
            self.input.clear();
        }
        r.map(|_| ())
    }

    /// Answers the requests at the start of `buf`; returns the bytes consumed.
    fn answer(
        &mut self,
        buf: &[u8],
        l: &Limits,
        pool: &mut Pool,
        route: &mut dyn FnMut(&Request<'_>) -> Response,
    ) -> Result<usize, GrowError> {
        let mut at = 0;
        self.need = 0;
        while at < buf.len() && !self.closing && !self.full(l) {
            let (parsed, need) = parse_needing(&buf[at..], l.max_head, l.max_body);
            match parsed {
                Parse::Partial => {
                    // Where the partial request starts is where the buffered input will.
                    self.need = need;
                    break;
                }
                Parse::Complete(req) => {
                    let resp = match req.method {
                        Method::Get | Method::Head => route(&req),
                        Method::Other => Response::error(Status::MethodNotAllowed),
                    };
                    self.push(&resp, req.method == Method::Head, req.keep_alive, l, pool)?;
                    self.requests += 1;
                    at += req.total_len;
                    self.closing = !req.keep_alive;
                }
                Parse::Error(e) => {
                    let status = match e {
                        ParseError::BadRequest => Status::BadRequest,
                        ParseError::HeadTooLarge => Status::HeaderTooLarge,
                        ParseError::BodyTooLarge => Status::ContentTooLarge,
                        ParseError::NotImplemented => Status::NotImplemented,
                        ParseError::BadVersion => Status::VersionNotSupported,
                    };
                    self.push(&Response::error(status), false, false, l, pool)?;
                    self.closing = true;
                    at = buf.len();
                }
            }
        }
        // A peer that finished sending gets answers to its complete requests only.
        if self.peer_done && !self.full(l) && !self.closing {
            self.closing = true;
            at = buf.len();
        }
        Ok(at)
    }

    /// Appends one response, compacting sent bytes away first.
    fn push(
        &mut self,
        resp: &Response,
        head_only: bool,
        keep_alive: bool,
        l: &Limits,
        pool: &mut Pool,
    ) -> Result<(), GrowError> {
        if self.sent > 0 {
            self.out.drain(..self.sent);
            self.sent = 0;
        }
        let n = resp.encoded_len(head_only, keep_alive);
        let need = self.out.len() + n;
        try_grow(&mut self.out, n, need.max(l.max_out), pool)?;
        resp.write(&mut self.out, head_only, keep_alive);
        if let Body::Repeat { len, pattern } = resp.body
            && !head_only
            && len > 0
        {
            self.stream = Some(Stream {
                pattern,
                at: 0,
                left: len,
            });
        }
        Ok(())
    }

    /// Bytes waiting to be sent (empty only when nothing is): the buffered output, then a
    /// streamed body's next piece, straight from the image.
    pub fn output(&self) -> &[u8] {
        if self.sent < self.out.len() {
            return &self.out[self.sent..];
        }
        match &self.stream {
            Some(st) => {
                let piece = &st.pattern[st.at..];
                &piece[..piece.len().min(st.left)]
            }
            None => &[],
        }
    }

    /// Marks `n` bytes of [`output`](Self::output) as sent.
    pub fn consumed(&mut self, n: usize) {
        if self.sent < self.out.len() {
            self.sent = (self.sent + n).min(self.out.len());
            if self.sent == self.out.len() {
                self.out.clear();
                self.sent = 0;
            }
            return;
        }
        if let Some(st) = self.stream.as_mut() {
            let n = n.min(st.left).min(st.pattern.len() - st.at);
            st.left -= n;
            st.at += n;
            if st.at == st.pattern.len() {
                st.at = 0;
            }
            if st.left == 0 {
                self.stream = None;
            }
        }
    }

    /// Gives idle capacity back to the pool: output beyond [`Limits::keep_out`] once it is
    /// drained, input once it is empty.
    pub fn trim(&mut self, l: &Limits, pool: &mut Pool) {
        if self.out.is_empty() {
            shrink(&mut self.out, l.keep_out, pool);
        }
        if self.input.is_empty() {
            shrink(&mut self.input, 0, pool);
        }
    }

    /// Frees the buffers and returns their bytes to the pool (the connection is gone).
    pub fn release(&mut self, pool: &mut Pool) {
        release(&mut self.input, pool);
        release(&mut self.out, pool);
        self.sent = 0;
        self.stream = None;
    }

    /// Bytes of buffer capacity this connection holds (what it has charged to the pool).
    pub fn memory(&self) -> usize {
        self.input.capacity() + self.out.capacity()
    }

    /// The connection should be closed now: it asked to (or erred) and all output is sent.
    pub fn done(&self) -> bool {
        self.closing && self.output().is_empty()
    }

    /// What the connection waits for, for its deadline.
    pub fn phase(&self) -> Phase {
        if !self.output().is_empty() {
            Phase::Sending
        } else if !self.input.is_empty() || (self.requests == 0 && !self.closing) {
            Phase::Reading
        } else {
            Phase::Idle
        }
    }

    /// Input is buffered (a partial request, or requests waiting for output room): a
    /// [`pump`](Self::pump) after output drained may answer more without any new bytes.
    pub fn has_input(&self) -> bool {
        !self.input.is_empty()
    }

    /// The peer finished sending: answer the complete requests buffered, nothing more.
    pub fn peer_closed(&mut self) {
        self.peer_done = true;
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_stream;
