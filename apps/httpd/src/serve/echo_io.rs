//! Echo connections' and the UDP echo socket's I/O for [`Server`], and how a connection
//! whose deadline passed is ended.

use corenet::prelude::{Conn as Tcp, Drain, RecvError, SendError, Sockets};
use corenet_http::echo;
use corenet_http::timers::Expiry;

use super::{Server, Stats};

impl Server {
    /// Visits echo connection `i`: reads, echoes, checks its deadline. Returns whether
    /// anything moved and whether the connection is still at `i` (not removed).
    pub(super) fn visit_echo(
        &mut self,
        i: usize,
        stack: &mut dyn Sockets,
        now: u64,
    ) -> (bool, bool) {
        let timeouts = self.settings.timeouts;
        let pool = &mut self.pool;
        let stats = &mut self.stats;
        stats.visits += 1;
        let e = &mut self.echo[i];
        let mut work = false;
        let mut ok = Ok(());
        let d = stack.drain_with(&e.c, &mut |step| match step {
            Drain::Room if ok.is_err() => 0,
            Drain::Room => e.echo.room(echo::MAX_PENDING),
            Drain::Bytes(data) => {
                let n = data.len().min(e.echo.room(echo::MAX_PENDING));
                ok = e.echo.on_input(&data[..n], echo::MAX_PENDING, pool);
                if ok.is_ok() { n } else { 0 }
            }
        });
        // Bytes left in the stack: read them once there is room, news or not.
        let unread = d.left;
        work |= d.took > 0;
        let end = 'visit: {
            match d.end {
                None => {}
                Some(RecvError::Finished) => e.echo.peer_closed(),
                Some(_) => {
                    e.echo.release(pool);
                    break 'visit Some(false);
                }
            }
            if ok.is_err() {
                stats.shed += 1;
                e.echo.release(pool);
                break 'visit Some(true);
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
                        break 'visit Some(false);
                    }
                }
            }
            work |= progress;
            if e.echo.done() {
                e.echo.release(pool);
                break 'visit Some(false);
            }
            e.timer.update(now, e.echo.phase(), progress);
            if let Some(x) = e.timer.expired(now, &timeouts) {
                e.echo.release(pool);
                expire(stack, &e.c, x, stats);
                break 'visit Some(false);
            }
            // What it sent made room: input left in the stack can be read now.
            if unread && e.echo.room(echo::MAX_PENDING) > 0 {
                self.again.push(e.c.slot());
            }
            None
        };
        match end {
            None => (work, true),
            // Let go: dropping the handle closes it.
            Some(false) => {
                drop(self.take_echo(i));
                (work, false)
            }
            Some(true) => {
                let e = self.take_echo(i);
                stack.reset(&e.c);
                (work, false)
            }
        }
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
