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
//! - [`Executor::pass`] is the async twin of `CoreStack::pass`: receive, poll the tasks
//!   that may progress, transmit. A task whose `read`/`write_all` is pending registers its
//!   connection's slot; after receive the executor wakes the tasks of the connections the
//!   stack marked (it keeps that list anyway, for egress), so idle connections cost
//!   nothing per pass. A task pending on anything else (`accept`, a future of its own) is
//!   polled every pass, and every [`SWEEP`] passes all tasks are, for connections that
//!   ended without a received segment (close timeout). Wakers are [`Waker::noop`]: the
//!   wake-up is the stack's mark, not a `Waker` call. [`Executor::run`] polls every task.

mod io;
#[cfg(test)]
mod tests;

pub use io::AsyncConn;

use alloc::boxed::Box;
use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Waker};

use corenet_nic::{RxQueue, TxQueue};

use crate::stack::{Conn, CoreStack, PassReport, Sockets};

type Task = Pin<Box<dyn Future<Output = ()>>>;

/// Every this many passes [`Executor::pass`] polls every task, not only the woken ones.
pub const SWEEP: u32 = 64;

/// No task waits on the slot.
const NOBODY: u32 = u32::MAX;

/// A task's access to its core's sockets and executor. Cheap to clone (an `Rc`).
#[derive(Clone)]
pub struct Io(Rc<Shared>);

struct Shared {
    sockets: Rc<RefCell<dyn Sockets>>,
    /// Tasks spawned from inside tasks, adopted within the current run.
    spawned: RefCell<Vec<Task>>,
    /// The task being polled.
    current: Cell<u32>,
    /// Whether it registered a wait on a connection in this poll.
    registered: Cell<bool>,
    /// Per connection slot, the task waiting on it (or `NOBODY`).
    waits: RefCell<Vec<u32>>,
}

/// One core's executor: owns its tasks, polls them from the core's pass.
pub struct Executor {
    tasks: Vec<Option<Task>>,
    free: Vec<u32>,
    live: usize,
    /// Pending tasks that registered no wait: polled every pass.
    every: Vec<u32>,
    /// Tasks woken in this pass (a buffer kept between passes).
    woken: Vec<u32>,
    passes: u32,
    io: Io,
}

impl Executor {
    /// An executor with no tasks over the core's `sockets` (its stack, shared with the
    /// caller, who polls it: see [`pass`](Self::pass)).
    pub fn new(sockets: Rc<RefCell<dyn Sockets>>) -> Self {
        Executor {
            tasks: Vec::new(),
            free: Vec::new(),
            live: 0,
            every: Vec::new(),
            woken: Vec::new(),
            passes: 0,
            io: Io(Rc::new(Shared {
                sockets,
                spawned: RefCell::new(Vec::new()),
                current: Cell::new(NOBODY),
                registered: Cell::new(false),
                waits: RefCell::new(Vec::new()),
            })),
        }
    }

    /// The handle tasks use for their sockets and to spawn more tasks.
    pub fn io(&self) -> Io {
        self.io.clone()
    }

    /// Adds a task; it is first polled in the next [`run`](Self::run) or pass.
    pub fn spawn(&mut self, task: impl Future<Output = ()> + 'static) {
        self.io.spawn(task);
    }

    /// Live tasks (finished ones are dropped in the poll that finished them).
    pub fn tasks(&self) -> usize {
        self.live + self.io.0.spawned.borrow().len()
    }

    /// One pass of `stack` (the one this executor's sockets are) at `now_us`: receive, poll
    /// the tasks that may progress, transmit, so a reply leaves in the pass that read the
    /// request.
    pub fn pass<R: RxQueue, T: TxQueue>(
        &mut self,
        stack: &RefCell<CoreStack<R, T>>,
        now_us: u64,
    ) -> PassReport {
        let rx_frames = stack.borrow_mut().poll_ingress(now_us);
        self.passes = self.passes.wrapping_add(1);
        let app_work = if self.passes.is_multiple_of(SWEEP) {
            self.run()
        } else {
            let mut cx = Context::from_waker(Waker::noop());
            let mut changed = false;
            // Those still pending without a wait append themselves; no allocation per pass.
            let n = self.every.len();
            for k in 0..n {
                changed |= self.poll_one(self.every[k], &mut cx);
            }
            self.every.drain(..n);
            // The woken list keeps its allocation from pass to pass.
            let mut woken = core::mem::take(&mut self.woken);
            {
                let mut waits = self.io.0.waits.borrow_mut();
                for &slot in stack.borrow().marked_slots() {
                    if let Some(w) = waits.get_mut(slot as usize)
                        && *w != NOBODY
                    {
                        woken.push(core::mem::replace(w, NOBODY));
                    }
                }
            }
            for &id in &woken {
                changed |= self.poll_one(id, &mut cx);
            }
            woken.clear();
            self.woken = woken;
            changed | self.adopt(&mut cx)
        };
        let conns_polled = stack.borrow_mut().poll_egress();
        PassReport {
            rx_frames,
            conns_polled,
            app_work,
        }
    }

    /// Polls every task once (tasks spawned meanwhile too); returns whether a task finished
    /// or was spawned. The stack must not be borrowed by the caller.
    pub fn run(&mut self) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        self.every.clear();
        let mut changed = false;
        for id in 0..self.tasks.len() as u32 {
            changed |= self.poll_one(id, &mut cx);
        }
        changed | self.adopt(&mut cx)
    }

    /// Polls task `id` if it lives; returns whether it finished.
    fn poll_one(&mut self, id: u32, cx: &mut Context<'_>) -> bool {
        let Some(task) = self.tasks.get_mut(id as usize).and_then(Option::as_mut) else {
            return false;
        };
        let shared = &self.io.0;
        shared.current.set(id);
        shared.registered.set(false);
        if task.as_mut().poll(cx).is_ready() {
            self.tasks[id as usize] = None;
            self.free.push(id);
            self.live -= 1;
            return true;
        }
        if !shared.registered.get() {
            self.every.push(id);
        }
        false
    }

    /// Gives tasks spawned since the last call an id and polls them now, so an accepted
    /// connection's first bytes are answered in the pass that accepted it.
    fn adopt(&mut self, cx: &mut Context<'_>) -> bool {
        let mut changed = false;
        loop {
            // The common case, nothing spawned, without touching the list's allocation.
            if self.io.0.spawned.borrow().is_empty() {
                return changed;
            }
            let new = core::mem::take(&mut *self.io.0.spawned.borrow_mut());
            if new.is_empty() {
                return changed;
            }
            changed = true;
            for task in new {
                let id = match self.free.pop() {
                    Some(id) => {
                        self.tasks[id as usize] = Some(task);
                        id
                    }
                    None => {
                        self.tasks.push(Some(task));
                        self.tasks.len() as u32 - 1
                    }
                };
                self.live += 1;
                self.poll_one(id, cx);
            }
        }
    }
}

impl Io {
    /// Lends the core's sockets to `f`; `None` if they are borrowed already (inside
    /// another `with`, or by a caller that polls the stack).
    pub fn with<R>(&self, f: impl FnOnce(&mut dyn Sockets) -> R) -> Option<R> {
        let mut s = self.0.sockets.try_borrow_mut().ok()?;
        Some(f(&mut *s))
    }

    /// Spawns a task on this core's executor (polled within the current run).
    pub fn spawn(&self, task: impl Future<Output = ()> + 'static) {
        self.0.spawned.borrow_mut().push(Box::pin(task));
    }

    /// The task being polled sleeps until connection `c` has an event (or the next sweep).
    fn wait_on(&self, c: &Conn) {
        let slot = c.id().slot() as usize;
        let mut waits = self.0.waits.borrow_mut();
        if waits.len() <= slot {
            waits.resize(slot + 1, NOBODY);
        }
        waits[slot] = self.0.current.get();
        self.0.registered.set(true);
    }
}
