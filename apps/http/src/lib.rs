//! HTTP/1.1 for corenet appliances, without I/O: bytes in, bytes out.
//!
//! A tour:
//! - [`request`]: an incremental request parser. It reports `Partial` until a whole request
//!   (head and any `Content-Length` body) is buffered, so requests split across segments and
//!   several requests in one segment (pipelining) both work. Malformed input is an error
//!   carrying the status to answer (400, 405, 413, 431, 501, 505), never a panic.
//! - [`conn`]: one connection's state machine: buffers input, answers each complete request in
//!   order through a router callback, tracks keep-alive and when to close.
//! - [`budget`]: a core's byte budget for connection buffers; growth is charged first and
//!   may fail (the connection is shed), never panic.
//! - [`timers`]: header, idle and send deadlines per connection, and the eviction choice.
//! - [`echo`]: a bounded echo buffer; [`ratelimit`]: a token bucket (UDP echo replies).
//! - [`settings`]: the server's command-line keys and their defaults.
//! - [`response`]: status lines and headers written into an output buffer.
//! - [`metrics`]: Prometheus text exposition format.
//!
//! Pure logic: `no_std` + `alloc`, tested on the host.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod budget;
pub mod conn;
pub mod echo;
pub mod metrics;
pub mod ratelimit;
pub mod request;
pub mod response;
pub mod settings;
pub mod timers;

pub use budget::{GrowError, Pool};
pub use conn::{Conn, Limits};
pub use request::{Method, ParseError, Request};
pub use response::{Response, Status};
