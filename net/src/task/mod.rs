//! A per-core executor for `async` connection handlers over [`Sockets`] (issue 14 item 2).
//!
//! An option next to the poll API, not the recommended style: see `docs/api.md`
//! ("async handlers") for the measured cost and the decision.
//!
//! - One [`Executor`] per core; its tasks are boxed futures that never leave that core
//!   (`Rc`, not `Send`): no locks, no atomics, no cross-core wake-ups.
//! - The core's stack lives in an `Rc<RefCell<..>>` shared by the executor's [`Io`]
//!   handles: a task borrows it inside each socket call and never across an `.await`, so
//!   the borrow flag is the only run-time check and this crate stays free of `unsafe`
//!   (lending the `&mut dyn Sockets` of `CoreStack::pass` to `'static` futures would need
//!   a lifetime-erasing pointer).
//! - [`Executor::pass`] is the async twin of `CoreStack::pass`: receive, poll every live
//!   task once, transmit. The stack cannot yet say cheaply which connections had events,
//!   so there is no ready list: the waker is [`Waker::noop`] and a pending task is simply
//!   polled again in the next pass (the poll API's `retain` loop visits every connection
//!   each pass too, so the two compare like for like).

mod io;
#[cfg(test)]
mod tests;

pub use io::AsyncConn;

use alloc::boxed::Box;
use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::RefCell;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Waker};

use corenet_nic::{RxQueue, TxQueue};

use crate::stack::{CoreStack, PassReport, Sockets};

type Task = Pin<Box<dyn Future<Output = ()>>>;

/// A task's access to its core's sockets and executor. Cheap to clone (two `Rc`s).
#[derive(Clone)]
pub struct Io {
    sockets: Rc<RefCell<dyn Sockets>>,
    /// Tasks spawned from inside tasks, adopted within the current run.
    spawned: Rc<RefCell<Vec<Task>>>,
}

/// One core's executor: owns its tasks, polls them from the core's pass.
pub struct Executor {
    tasks: Vec<Task>,
    io: Io,
}

impl Executor {
    /// An executor with no tasks over the core's `sockets` (its stack, shared with the
    /// caller, who polls it: see [`pass`](Self::pass)).
    pub fn new(sockets: Rc<RefCell<dyn Sockets>>) -> Self {
        Executor {
            tasks: Vec::new(),
            io: Io {
                sockets,
                spawned: Rc::new(RefCell::new(Vec::new())),
            },
        }
    }

    /// The handle tasks use for their sockets and to spawn more tasks.
    pub fn io(&self) -> Io {
        self.io.clone()
    }

    /// Adds a task; it is first polled in the next [`run`](Self::run).
    pub fn spawn(&mut self, task: impl Future<Output = ()> + 'static) {
        self.tasks.push(Box::pin(task));
    }

    /// Live tasks (finished ones are dropped in the `run` that finished them).
    pub fn tasks(&self) -> usize {
        self.tasks.len() + self.io.spawned.borrow().len()
    }

    /// One pass of `stack` (the one this executor's sockets are) at `now_us`: receive, then
    /// [`run`](Self::run), then transmit, so a reply leaves in the pass that read the request.
    pub fn pass<R: RxQueue, T: TxQueue>(
        &mut self,
        stack: &RefCell<CoreStack<R, T>>,
        now_us: u64,
    ) -> PassReport {
        let rx_frames = stack.borrow_mut().poll_ingress(now_us);
        let app_work = self.run();
        let conns_polled = stack.borrow_mut().poll_egress();
        PassReport {
            rx_frames,
            conns_polled,
            app_work,
        }
    }

    /// Polls every task once (tasks spawned meanwhile are polled in the same call); returns
    /// whether a task finished or was spawned. The stack must not be borrowed by the caller.
    pub fn run(&mut self) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        let mut changed = false;
        let mut from = 0;
        loop {
            let mut i = from;
            while i < self.tasks.len() {
                if self.tasks[i].as_mut().poll(&mut cx).is_ready() {
                    // The last task moves here and is polled next (order does not matter).
                    drop(self.tasks.swap_remove(i));
                    changed = true;
                } else {
                    i += 1;
                }
            }
            let new = core::mem::take(&mut *self.io.spawned.borrow_mut());
            if new.is_empty() {
                return changed;
            }
            // New tasks run now, so an accepted connection's first bytes are answered in
            // the pass that accepted it; the others were polled already.
            changed = true;
            from = self.tasks.len();
            self.tasks.extend(new);
        }
    }
}

impl Io {
    /// Lends the core's sockets to `f`; `None` if they are borrowed already (inside
    /// another `with`, or by a caller that polls the stack).
    pub fn with<R>(&self, f: impl FnOnce(&mut dyn Sockets) -> R) -> Option<R> {
        let mut s = self.sockets.try_borrow_mut().ok()?;
        Some(f(&mut *s))
    }

    /// Spawns a task on this core's executor (polled within the current run).
    pub fn spawn(&self, task: impl Future<Output = ()> + 'static) {
        self.spawned.borrow_mut().push(Box::pin(task));
    }
}
