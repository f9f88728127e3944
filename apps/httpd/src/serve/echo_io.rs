//! Echo connections' and the UDP echo socket's I/O for [`Server`], and how a connection
//! whose deadline passed is ended.

use corenet::prelude::{Conn as Tcp, RecvError, SendError, Sockets};
use corenet_http::echo;
use corenet_http::timers::Expiry;

use super::{Server, Stats};

impl Server {
    /// One pass over the echo connections; returns whether anything moved.
    pub(super) fn serve_echo(&mut self, stack: &mut dyn Sockets, now: u64) -> bool {
        let timeouts = self.settings.timeouts;
        let pool = &mut self.pool;
        let stats = &mut self.stats;
        let mut work = false;
        self.echo.retain_mut(|e| {
            let room = e.echo.room(echo::MAX_PENDING);
            let mut ok = Ok(());
            let r = match room {
                0 => Err(RecvError::WouldBlock),
                _ => stack.recv_with(&e.c, &mut |data| {
                    let n = data.len().min(room);
                    ok = e.echo.on_input(&data[..n], echo::MAX_PENDING, pool);
                    if ok.is_ok() { n } else { 0 }
                }),
            };
            match r {
                Ok(n) => work |= n > 0,
                Err(RecvError::WouldBlock) => {}
                Err(RecvError::Finished) => e.echo.peer_closed(),
                Err(_) => {
                    e.echo.release(pool);
                    // Dropping the handle closes it.
                    return false;
                }
            }
            if ok.is_err() {
                stats.shed += 1;
                e.echo.release(pool);
                stack.reset(&e.c);
                return false;
            }
            let mut progress = false;
            if !e.echo.output().is_empty() {
                match stack.send(&e.c, e.echo.output()) {
                    Ok(n) => {
                        e.echo.consumed(n, pool);
                        progress = n > 0;
                    }
                    Err(SendError::WouldBlock) => {}
                    Err(_) => {
                        e.echo.release(pool);
                        // Dropping the handle closes it.
                        return false;
                    }
                }
            }
            work |= progress;
            if e.echo.done() {
                e.echo.release(pool);
                // Dropping the handle closes it.
                return false;
            }
            e.timer.update(now, e.echo.phase(), progress);
            match e.timer.expired(now, &timeouts) {
                None => true,
                Some(x) => {
                    e.echo.release(pool);
                    expire(stack, &e.c, x, stats);
                    false
                }
            }
        });
        work
    }

    /// Echoes the datagrams waiting, as far as the token bucket allows.
    pub(super) fn serve_udp(&mut self, stack: &mut dyn Sockets, now: u64) -> bool {
        let Some(u) = self.udp else { return false };
        let mut buf = [0u8; 1500];
        let mut work = false;
        while let Ok((n, from)) = stack.udp_recv_from(u, &mut buf) {
            work = true;
            if self.udp_bucket.allow(now) {
                let _ = stack.udp_send_to(u, &buf[..n], from);
            }
        }
        work
    }
}

/// Ends a connection whose deadline passed: an idle one politely (FIN), a stuck one with RST
/// (its slot is free at once).
pub(super) fn expire(stack: &mut dyn Sockets, c: &Tcp, e: Expiry, stats: &mut Stats) {
    match e {
        Expiry::Idle => {
            // The caller drops the handle, which closes it.
            stats.idle_timeouts += 1;
        }
        Expiry::Header => {
            stats.header_timeouts += 1;
            stack.reset(c);
        }
        Expiry::Send => {
            stats.send_timeouts += 1;
            stack.reset(c);
        }
    }
}
