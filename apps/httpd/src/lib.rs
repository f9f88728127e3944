//! httpd's logic, host-testable: the guest binary (`main.rs`, `appliance.rs`) is glue.
//!
//! - [`serve`]: one pass over a core's HTTP and echo connections and its UDP echo socket,
//!   over any core's [`corenet::prelude::Sockets`]: bounded buffers charged to the core's pool,
//!   503 and shedding when the pool is short, header / idle / send deadlines, eviction of the
//!   longest-idle connection near the connection limit, rate-limited UDP echo.
//!
//! - [`bulk`]: `GET /bytes/N`, a generated body of any size streamed without buffering.
//!
//! The parsing, buffering and deadline decisions themselves live in `corenet_http`.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod bulk;
pub mod serve;

#[cfg(test)]
mod tests;
