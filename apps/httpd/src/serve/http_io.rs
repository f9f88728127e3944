//! HTTP connections' I/O for [`Server`]: read, answer, send, deadlines, shedding.

use corenet::prelude::{Drain, RecvError, SendError, Sockets};
use corenet_http::{Request, Response};

use super::Server;
use super::echo_io::expire;

/// How a visit ended for the connection.
enum End {
    Keep,
    /// Let go (dropping the handle closes it).
    Drop,
    /// Reset (the handle is dead).
    Reset,
}

impl Server {
    /// Visits HTTP connection `i`: reads, answers, sends, checks its deadline. Returns
    /// whether anything moved and whether the connection is still at `i` (not removed).
    pub(super) fn visit_http(
        &mut self,
        i: usize,
        stack: &mut dyn Sockets,
        now: u64,
        route: &mut dyn FnMut(&Request<'_>) -> Response,
    ) -> (bool, bool) {
        let (limits, timeouts) = (self.limits, self.settings.timeouts);
        let pool = &mut self.pool;
        let stats = &mut self.stats;
        stats.visits += 1;
        let h = &mut self.http[i];
        let conn = &mut h.conn;
        let mut work = false;
        let mut ok = Ok(0);
        // No room: not even a look (that would mark the connection for egress every pass);
        // a reset shows up as a failed send below.
        let d = stack.drain_with(&h.c, &mut |step| match step {
            Drain::Room if ok.is_err() => 0,
            Drain::Room => conn.input_room(&limits),
            Drain::Bytes(data) => {
                let n = data.len().min(conn.input_room(&limits));
                ok = conn.on_input(&data[..n], &limits, pool, route);
                *ok.as_ref().unwrap_or(&n)
            }
        });
        // Bytes left in the stack: read them once there is room, news or not.
        let unread = d.left;
        work |= d.took > 0;
        let end = 'visit: {
            match d.end {
                None => {}
                Some(RecvError::Finished) => conn.peer_closed(),
                Some(_) => {
                    // Reset or gone: dropping the handle (closing it) frees its slot.
                    conn.release(pool);
                    break 'visit End::Drop;
                }
            }
            let mut ok = ok.map(|_| ());
            if ok.is_ok() {
                ok = conn.pump(&limits, pool, route);
            }
            if ok.is_err() {
                stats.shed += 1;
                conn.release(pool);
                break 'visit End::Reset;
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
                        break 'visit End::Drop;
                    }
                }
            }
            work |= progress;
            conn.trim(&limits, pool);
            if conn.done() {
                conn.release(pool);
                break 'visit End::Drop;
            }
            h.timer.update(now, conn.phase(), progress);
            if let Some(e) = h.timer.expired(now, &timeouts) {
                conn.release(pool);
                expire(stack, &h.c, e, stats);
                break 'visit End::Drop;
            }
            // Output drained below its bound: input left in the stack, or requests
            // buffered here, can go on without a new segment to announce it.
            if (unread && conn.input_room(&limits) > 0) || (progress && conn.has_input()) {
                self.again.push(h.c.slot());
            }
            End::Keep
        };
        match end {
            End::Keep => (work, true),
            End::Drop => {
                drop(self.take_http(i));
                (work, false)
            }
            End::Reset => {
                let h = self.take_http(i);
                stack.reset(&h.c);
                (work, false)
            }
        }
    }
}
