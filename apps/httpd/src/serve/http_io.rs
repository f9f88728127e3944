//! HTTP connections' I/O for [`Server`]: read, answer, send, deadlines, shedding.

use corenet::prelude::{RecvError, SendError, Sockets};
use corenet_http::{Request, Response};

use super::Server;
use super::echo_io::expire;

impl Server {
    /// One pass over the HTTP connections; returns whether anything moved.
    pub(super) fn serve_http(
        &mut self,
        stack: &mut dyn Sockets,
        now: u64,
        route: &mut dyn FnMut(&Request<'_>) -> Response,
    ) -> bool {
        let (limits, timeouts) = (self.limits, self.settings.timeouts);
        let pool = &mut self.pool;
        let stats = &mut self.stats;
        let mut work = false;
        self.http.retain_mut(|h| {
            let conn = &mut h.conn;
            let mut ok = Ok(0);
            let room = conn.input_room(&limits);
            // No room: not even a look (that would mark the connection for egress every
            // pass); a reset shows up as a failed send below.
            let r = match room {
                0 => Err(RecvError::WouldBlock),
                _ => stack.recv_with(&h.c, &mut |data| {
                    let n = data.len().min(room);
                    ok = conn.on_input(&data[..n], &limits, pool, route);
                    *ok.as_ref().unwrap_or(&n)
                }),
            };
            match r {
                Ok(n) => work |= n > 0,
                Err(RecvError::WouldBlock) => {}
                Err(RecvError::Finished) => conn.peer_closed(),
                Err(RecvError::Closed | RecvError::BadHandle) => {
                    // Reset or gone: dropping the handle (closing it) frees its slot.
                    conn.release(pool);
                    return false;
                }
            }
            let mut ok = ok.map(|_| ());
            if ok.is_ok() {
                ok = conn.pump(&limits, pool, route);
            }
            if ok.is_err() {
                stats.shed += 1;
                conn.release(pool);
                stack.reset(&h.c);
                return false;
            }
            let mut progress = false;
            while !conn.output().is_empty() {
                match stack.send(&h.c, conn.output()) {
                    Ok(0) | Err(SendError::WouldBlock) => break,
                    Ok(n) => {
                        conn.consumed(n);
                        progress = true;
                    }
                    Err(_) => {
                        conn.release(pool);
                        // Dropping the handle closes it.
                        return false;
                    }
                }
            }
            work |= progress;
            conn.trim(&limits, pool);
            if conn.done() {
                conn.release(pool);
                // Dropping the handle closes it.
                return false;
            }
            h.timer.update(now, conn.phase(), progress);
            match h.timer.expired(now, &timeouts) {
                None => true,
                Some(e) => {
                    conn.release(pool);
                    expire(stack, &h.c, e, stats);
                    false
                }
            }
        });
        work
    }
}
