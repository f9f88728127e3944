//! The appliance: per-core accept, same-core backend connect, pipes, admin stop.

use core::sync::atomic::{AtomicBool, Ordering};

use corenet::prelude::*;
use corenet_proxy::config::{self, ProxyConfig};
use corenet_proxy::pipe::{Outcome, PIPE_BUFFER, Pipe};
use corenet_proxy::pipes::Pipes;
use corenet_proxy::stats::{ProxyStats, Report};

/// Set by whichever core receives `corenet-stop`; every core then reports and stops.
static STOP: AtomicBool = AtomicBool::new(false);

struct Proxy {
    /// `None` on a core without a queue.
    net: Option<Network>,
    relay: Relay,
    /// Console report at debug level.
    report: Every,
}

/// What one core relays.
struct Relay {
    cfg: ProxyConfig,
    pipes: Pipes,
    next_backend: usize,
    admin: Option<UdpSocket>,
    stats: ProxyStats,
}

impl Relay {
    /// Accepts clients (each with a backend connection, round robin), pumps every pipe,
    /// reads admin commands; returns whether anything moved.
    fn serve(&mut self, s: &mut dyn Sockets, core: usize, now_ns: u64) -> bool {
        let mut work = false;
        let n = self.cfg.backends.len();
        while let Ok(client) = s.accept(self.cfg.listen) {
            work = true;
            self.stats.accepted += 1;
            let i = self.next_backend % n;
            self.next_backend = self.next_backend.wrapping_add(1);
            match s.connect(self.cfg.backends[i]) {
                Ok(backend) => {
                    self.stats.per_backend[i] += 1;
                    self.pipes.add(Pipe::new(client, backend, PIPE_BUFFER));
                }
                Err(e) => {
                    log::debug!("proxy: connect to backend {i}: {e}");
                    self.stats.connect_failed += 1;
                    s.close(client);
                }
            }
        }
        let stats = &mut self.stats;
        work |= self.pipes.pump(s, now_ns, &mut |_, outcome, moved| {
            stats.bytes_up += moved.up as u64;
            stats.bytes_down += moved.down as u64;
            match outcome {
                Outcome::Open => {}
                Outcome::Done => stats.done += 1,
                Outcome::ConnectFailed => stats.connect_failed += 1,
                Outcome::Aborted => stats.aborted += 1,
            }
        });
        if let Some(u) = self.admin {
            let mut buf = [0u8; 64];
            while let Ok((len, _from)) = s.udp_recv_from(u, &mut buf) {
                if buf[..len].starts_with(b"corenet-stop") {
                    log::info!("proxy: stop requested (core {core})");
                    STOP.store(true, Ordering::Relaxed);
                }
            }
        }
        work
    }
}

impl Proxy {
    fn report(&self, core: &Core) -> Option<Report<'_>> {
        let net = self.net.as_ref()?;
        Some(Report {
            core: core.id(),
            queue: net.stack.queue(),
            stats: &self.relay.stats,
            backends: self.relay.cfg.backends.len(),
            open: self.relay.pipes.len(),
            net: net.stack.counters().snapshot(),
        })
    }

    /// Final line, then this core is done.
    fn stop(&mut self, core: &Core) -> Step {
        if let Some(net) = self.net.as_mut() {
            for p in self.relay.pipes.drain() {
                p.abort(net.sockets());
            }
        }
        match self.report(core) {
            Some(r) => println!("{r}"),
            None => println!("proxy: core {} idle (no queue)", core.id()),
        }
        Step::Done(corenet::exit_code::SUCCESS)
    }
}

impl Appliance for Proxy {
    const NAME: &'static str = "proxy";

    fn init(core: &mut Core) -> Self {
        let cfg = config::parse(core.cmdline().0).unwrap_or_else(|e| {
            boot_fail(format_args!(
                "proxy: bad command line: {e:?} (want backends=a.b.c.d:port or [ipv6]:port,...)"
            ))
        });
        let mut p = Proxy {
            net: Network::start_or_stop(core, &AppMemory::default(), Self::NAME),
            relay: Relay {
                cfg,
                pipes: Pipes::new(core.now_ns()),
                next_backend: core.id(),
                admin: None,
                stats: ProxyStats::default(),
            },
            report: Every::new(Duration::from_secs(1)),
        };
        let Some(net) = p.net.as_mut() else {
            return p;
        };
        let (s, cfg) = (net.sockets(), &p.relay.cfg);
        s.listen(cfg.listen)
            .unwrap_or_else(|e| boot_fail(format_args!("proxy: listen {}: {e}", cfg.listen)));
        if cfg.admin != 0 {
            p.relay.admin = s.udp_bind(cfg.admin).ok();
        }
        if core.id() == 0 {
            log::info!(
                "proxy: port {} -> {} backends {:?}, admin udp {}, {} cores",
                cfg.listen,
                cfg.backends.len(),
                cfg.backends.as_slice(),
                cfg.admin,
                core.count()
            );
        }
        p
    }

    fn poll(&mut self, core: &mut Core) -> Step {
        if STOP.load(Ordering::Relaxed) {
            return self.stop(core);
        }
        let Some(net) = self.net.as_mut() else {
            return Step::Idle;
        };
        let (relay, id, now) = (&mut self.relay, core.id(), core.now_ns());
        let work = net.pass(core, |s| relay.serve(s, id, now));
        if self.report.due(core.now_ns())
            && let Some(r) = self.report(core)
        {
            log::debug!("{r}");
        }
        if work { Step::Busy } else { Step::Idle }
    }

    /// Every source of work can wake this core (see `Network::next_deadline_ns`); a stop
    /// requested on another core is seen at the next deadline (the 1 s report at the latest).
    fn arm_wakeups(&mut self, _core: &mut Core) -> bool {
        true
    }

    fn next_deadline_ns(&mut self, core: &mut Core) -> Option<u64> {
        let net = self.net.as_mut()?;
        let at = net.next_deadline_ns(core).unwrap_or(u64::MAX);
        Some(at.min(self.report.deadline_ns()))
    }
}

corenet::appliance!(Proxy);
