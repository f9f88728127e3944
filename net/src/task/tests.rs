//! The executor and the async echo on two stacks back to back (simulated NICs, virtual clock).

extern crate std;

use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};

use corenet_nic::steering::RssConfig;

use super::{Executor, Io};
use crate::sim::{SimNic, SimRxQueue, SimTxQueue};
use crate::stack::{RecvError, TcpConn};
use crate::{CoreStack, StackConfig};

type Stack = CoreStack<SimRxQueue, SimTxQueue>;

/// The straight-line echo handler of the brief.
async fn echo(mut conn: super::AsyncConn) -> Result<(), RecvError> {
    let mut buf = [0u8; 2048];
    loop {
        let n = conn.read(&mut buf).await?;
        if n == 0 {
            return Ok(()); // the peer closed; dropping `conn` closes ours
        }
        if conn.write_all(&buf[..n]).await.is_err() {
            return Err(RecvError::Closed);
        }
    }
}

/// Accepts on port 7 forever, one echo task per connection.
async fn accept_loop(io: Io) {
    while let Ok(conn) = io.accept(7).await {
        io.spawn(async move {
            let _ = echo(conn).await;
        });
    }
}

struct World {
    server: Rc<RefCell<Stack>>,
    client: Stack,
    snic: SimNic,
    cnic: SimNic,
    exec: Executor,
    now: u64,
}

impl World {
    fn new() -> Self {
        let rss = RssConfig::new(1).unwrap();
        let snic = SimNic::new(rss.clone(), 1024);
        let cnic = SimNic::new(rss.clone(), 1024);
        let (rx, tx) = snic.queue_pair(0);
        let server = Rc::new(RefCell::new(
            Stack::new(cfg(2), &rss, rx, tx, None, 0).unwrap(),
        ));
        let (rx, tx) = cnic.queue_pair(0);
        let client = CoreStack::new(cfg(1), &rss, rx, tx, None, 0).unwrap();
        server.borrow_mut().listen(7).unwrap();
        let mut exec = Executor::new(server.clone());
        exec.spawn(accept_loop(exec.io()));
        World {
            server,
            client,
            snic,
            cnic,
            exec,
            now: 0,
        }
    }

    /// One step: the client polls, frames cross, the server runs a pass with the executor.
    fn step(&mut self) {
        self.now += 1_000;
        self.client.poll(self.now);
        pump(&self.cnic, &self.snic);
        self.exec.pass(&self.server, self.now);
        pump(&self.cnic, &self.snic);
    }

    fn steps(&mut self, n: usize) {
        for _ in 0..n {
            self.step();
        }
    }

    fn read(&mut self, c: TcpConn) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = self.client.recv(c, &mut buf) {
            out.extend_from_slice(&buf[..n]);
        }
        out
    }
}

fn cfg(last: u8) -> StackConfig {
    let ip = [10, 0, 0, last];
    let mut c = StackConfig::new([2, 0, 0, 0, 0, last], ip, 24, 7 + u64::from(last));
    c.tcp_buffer = 2048;
    c
}

fn pump(a: &SimNic, b: &SimNic) {
    while let Some(f) = a.take_sent() {
        b.deliver(f);
    }
    while let Some(f) = b.take_sent() {
        a.deliver(f);
    }
}

#[test]
fn the_async_echo_answers_every_connection() {
    let mut w = World::new();
    let conns: Vec<TcpConn> = (0..3)
        .map(|_| w.client.connect(([10, 0, 0, 2], 7)).unwrap())
        .collect();
    w.steps(10);
    assert_eq!(
        w.exec.tasks(),
        4,
        "the accept loop and one handler per connection"
    );
    for (i, &c) in conns.iter().enumerate() {
        let msg = [b'a' + i as u8; 100];
        assert_eq!(w.client.send(c, &msg), Ok(100));
    }
    w.steps(10);
    for (i, &c) in conns.iter().enumerate() {
        assert_eq!(w.read(c), [b'a' + i as u8; 100]);
    }
}

#[test]
fn more_than_the_send_buffer_is_echoed_whole() {
    // write_all waits for room: 6 KB through 2 KB buffers arrive in order, nothing lost.
    let mut w = World::new();
    let c = w.client.connect(([10, 0, 0, 2], 7)).unwrap();
    w.steps(10);
    let data: Vec<u8> = (0..6000u32).map(|i| (i % 251) as u8).collect();
    let (mut sent, mut got) = (0, Vec::new());
    for _ in 0..500 {
        if sent < data.len() {
            sent += w.client.send(c, &data[sent..]).unwrap_or(0);
        }
        w.step();
        got.extend(w.read(c));
        if got.len() == data.len() {
            break;
        }
    }
    assert_eq!(got, data);
}

#[test]
fn a_handler_that_returns_closes_its_connection_and_finishes() {
    let mut w = World::new();
    let c = w.client.connect(([10, 0, 0, 2], 7)).unwrap();
    w.steps(10);
    assert_eq!(w.exec.tasks(), 2);
    w.client.close(c).unwrap();
    w.steps(20);
    assert_eq!(w.exec.tasks(), 1, "the echo task saw EOF and ended");
    for _ in 0..200 {
        w.now += 100_000;
        w.step();
    }
    assert_eq!(
        w.server.borrow().connections(),
        0,
        "dropping the AsyncConn freed the slot"
    );
}

#[test]
fn a_nested_borrow_is_refused_and_a_busy_stack_leaves_tasks_pending() {
    let mut w = World::new();
    let nested = Rc::new(Cell::new(None));
    let (io, n) = (w.exec.io(), nested.clone());
    w.exec.spawn(async move {
        let inner = io.with(|_| io.with(|_| ()).is_some());
        n.set(inner);
    });
    w.step();
    assert_eq!(nested.get(), Some(false), "outer lent, inner refused");
    // A connection accepted while the caller holds the stack: the accept stays pending.
    let c = w.client.connect(([10, 0, 0, 2], 7)).unwrap();
    w.steps(10);
    assert_eq!(w.exec.tasks(), 2);
    let held = w.server.clone();
    let _guard = held.borrow_mut();
    assert!(!w.exec.run(), "nothing can progress, nothing panics");
    drop(_guard);
    assert_eq!(w.client.send(c, b"ping"), Ok(4));
    w.steps(5);
    assert_eq!(w.read(c), b"ping");
}

/// Counts the polls of the future it wraps.
struct Counted<F>(core::pin::Pin<alloc::boxed::Box<F>>, Rc<Cell<u32>>);

impl<F: core::future::Future> core::future::Future for Counted<F> {
    type Output = F::Output;
    fn poll(
        mut self: core::pin::Pin<&mut Self>,
        cx: &mut core::task::Context<'_>,
    ) -> core::task::Poll<F::Output> {
        self.1.set(self.1.get() + 1);
        self.0.as_mut().poll(cx)
    }
}

#[test]
fn an_idle_connection_task_is_polled_only_on_its_events_and_sweeps() {
    let mut w = World::new();
    // Replace the accept loop's handler with a counted echo on a second port.
    w.server.borrow_mut().listen(8).unwrap();
    let polls = Rc::new(Cell::new(0));
    let (io, p) = (w.exec.io(), polls.clone());
    w.exec.spawn(async move {
        if let Ok(conn) = io.accept(8).await {
            let handler = async {
                let _ = echo(conn).await;
            };
            io.spawn(Counted(alloc::boxed::Box::pin(handler), p));
        }
    });
    let c = w.client.connect(([10, 0, 0, 2], 8)).unwrap();
    w.steps(10);
    let settled = polls.get();
    assert!(settled >= 1, "the handler started");
    w.steps(20); // passes 11..30, no sweep (SWEEP = 64), no traffic
    assert_eq!(polls.get(), settled, "no event, no poll");
    assert_eq!(w.client.send(c, b"hi"), Ok(2));
    w.steps(3);
    assert_eq!(w.read(c), b"hi");
    let after = polls.get();
    assert!(after > settled, "the segment woke it");
    w.steps(super::SWEEP as usize);
    assert!(
        polls.get() > after,
        "a sweep polls it even without an event"
    );
}
