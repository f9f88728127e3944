//! One HTTP connection: input buffering, pipelined requests answered in order, keep-alive.

use alloc::vec::Vec;

use crate::request::{Method, Parse, ParseError, Request, parse};
use crate::response::{Response, Status};

/// Bounds that keep a connection's memory fixed whatever the client sends.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest request head.
    pub max_head: usize,
    /// Largest request body (bodies are read and discarded).
    pub max_body: usize,
    /// Output buffered before the connection stops reading (back-pressure).
    pub max_out: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_head: 8 * 1024,
            max_body: 64 * 1024,
            max_out: 256 * 1024,
        }
    }
}

/// A connection's protocol state.
#[derive(Debug, Default)]
pub struct Conn {
    input: Vec<u8>,
    out: Vec<u8>,
    sent: usize,
    closing: bool,
    /// Requests answered on this connection.
    pub requests: u64,
}

impl Conn {
    /// A fresh connection.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many more input bytes the connection accepts now (0: stop reading).
    pub fn input_room(&self, l: &Limits) -> usize {
        if self.closing || self.out.len() - self.sent >= l.max_out {
            return 0;
        }
        (l.max_head + l.max_body + 4).saturating_sub(self.input.len())
    }

    /// Takes received bytes and answers every complete request through `route`.
    pub fn on_input(
        &mut self,
        data: &[u8],
        l: &Limits,
        route: &mut dyn FnMut(&Request<'_>) -> Response,
    ) {
        if self.closing {
            return;
        }
        self.input.extend_from_slice(data);
        let mut at = 0;
        while at < self.input.len() && self.out.len() - self.sent < l.max_out {
            match parse(&self.input[at..], l.max_head, l.max_body) {
                Parse::Partial => break,
                Parse::Complete(req) => {
                    let resp = match req.method {
                        Method::Get | Method::Head => route(&req),
                        Method::Other => Response::error(Status::MethodNotAllowed),
                    };
                    resp.write(&mut self.out, req.method == Method::Head, req.keep_alive);
                    self.requests += 1;
                    at += req.total_len;
                    if !req.keep_alive {
                        self.closing = true;
                        break;
                    }
                }
                Parse::Error(e) => {
                    let status = match e {
                        ParseError::BadRequest => Status::BadRequest,
                        ParseError::HeadTooLarge => Status::HeaderTooLarge,
                        ParseError::BodyTooLarge => Status::ContentTooLarge,
                        ParseError::NotImplemented => Status::NotImplemented,
                        ParseError::BadVersion => Status::VersionNotSupported,
                    };
                    Response::error(status).write(&mut self.out, false, false);
                    self.closing = true;
                    break;
                }
            }
        }
        if self.closing {
            self.input.clear();
        } else {
            self.input.drain(..at);
        }
    }

    /// Bytes waiting to be sent.
    pub fn output(&self) -> &[u8] {
        &self.out[self.sent..]
    }

    /// Marks `n` output bytes as sent.
    pub fn consumed(&mut self, n: usize) {
        self.sent = (self.sent + n).min(self.out.len());
        if self.sent == self.out.len() {
            self.out.clear();
            self.sent = 0;
        }
    }

    /// The connection should be closed now: it asked to (or erred) and all output is sent.
    pub fn done(&self) -> bool {
        self.closing && self.output().is_empty()
    }

    /// The peer finished sending: answer nothing more than what is buffered.
    pub fn peer_closed(&mut self) {
        self.closing = true;
        self.input.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;

    fn router(r: &Request<'_>) -> Response {
        match r.path() {
            "/" => Response::new(Status::Ok, "text/html", b"<h1>hi</h1>"),
            _ => Response::error(Status::NotFound),
        }
    }

    fn run(c: &mut Conn, input: &[u8]) -> String {
        let l = Limits {
            max_head: 256,
            max_body: 32,
            max_out: 4096,
        };
        c.on_input(input, &l, &mut router);
        let s = String::from_utf8(c.output().to_vec()).unwrap();
        let n = c.output().len();
        c.consumed(n);
        s
    }

    #[test]
    fn pipelined_requests_answered_in_order() {
        let mut c = Conn::new();
        let out = run(
            &mut c,
            b"GET / HTTP/1.1\r\n\r\nGET /nope HTTP/1.1\r\n\r\nHEAD / HTTP/1.1\r\n\r\n",
        );
        let codes: std::vec::Vec<_> = out
            .match_indices("HTTP/1.1 ")
            .map(|(i, _)| &out[i + 9..i + 12])
            .collect();
        assert_eq!(codes, ["200", "404", "200"]);
        assert_eq!(out.matches("<h1>hi</h1>").count(), 1, "HEAD has no body");
        assert_eq!(c.requests, 3);
        assert!(!c.done());
    }

    #[test]
    fn split_request_waits_for_the_rest() {
        let mut c = Conn::new();
        assert_eq!(run(&mut c, b"GET / HT"), "");
        assert_eq!(run(&mut c, b"TP/1.1\r\nHost: a\r"), "");
        assert!(run(&mut c, b"\n\r\n").starts_with("HTTP/1.1 200 OK"));
    }

    #[test]
    fn close_semantics() {
        let mut c = Conn::new();
        let out = run(&mut c, b"GET / HTTP/1.0\r\n\r\nGET / HTTP/1.1\r\n\r\n");
        assert_eq!(
            out.matches("HTTP/1.1 200").count(),
            1,
            "nothing after a closing request"
        );
        assert!(out.contains("Connection: close"));
        assert!(c.done());
    }

    #[test]
    fn errors_answer_and_close() {
        for (input, code) in [
            (&b"BREW / HTTP/1.1\r\n\r\n"[..], "405"),
            (b"GET / HTTP/1.1\r\nbad header\r\n\r\n", "400"),
            (b"POST / HTTP/1.1\r\nContent-Length: 999\r\n\r\n", "413"),
            (b"GET / HTTP/3\r\n\r\n", "505"),
        ] {
            let mut c = Conn::new();
            let out = run(&mut c, input);
            assert!(out.starts_with(&std::format!("HTTP/1.1 {code}")), "{out}");
            if code == "405" {
                assert!(out.contains("Allow: GET, HEAD"));
                assert!(
                    !c.done(),
                    "405 on a well-formed request keeps the connection"
                );
            } else {
                assert!(c.done());
            }
        }
        let mut c = Conn::new();
        let out = run(&mut c, &[b'x'; 300]);
        assert!(out.starts_with("HTTP/1.1 431"));
    }

    #[test]
    fn bodies_are_skipped_and_back_pressure_holds() {
        let mut c = Conn::new();
        let out = run(
            &mut c,
            b"POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nabcdGET / HTTP/1.1\r\n\r\n",
        );
        assert!(out.starts_with("HTTP/1.1 405"));
        assert!(out.contains("HTTP/1.1 200"));
        let l = Limits {
            max_head: 256,
            max_body: 32,
            max_out: 64,
        };
        let mut c = Conn::new();
        c.on_input(&b"GET / HTTP/1.1\r\n\r\n".repeat(10), &l, &mut router);
        assert!(
            c.requests < 10,
            "stops answering once output is over the limit"
        );
        assert_eq!(c.input_room(&l), 0);
        let n = c.output().len();
        c.consumed(n);
        assert!(c.input_room(&l) > 0);
        c.on_input(b"", &l, &mut router);
        assert!(c.requests > 1);
    }
}
