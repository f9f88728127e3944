//! The appliance: per-core accept, same-core backend connect, pipes, admin stop.

use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};

use corenet::budget::AppMemory;
use corenet::kernel::boot::boot_fail;
use corenet::net::stack::UdpSocket;
use corenet::network::Network;
use corenet::{Appliance, Core, Step};
use corenet_proxy::config::{self, ProxyConfig};
use corenet_proxy::pipe::{Outcome, PIPE_BUFFER, Pipe};
use corenet_proxy::stats::{ProxyStats, Report};

/// Set by whichever core receives `corenet-stop`; every core then reports and stops.
static STOP: AtomicBool = AtomicBool::new(false);

/// Console report period at debug level.
const REPORT_NS: u64 = 1_000_000_000;

struct Proxy {
    /// `None` on a core without a queue, or when the configuration is bad.
    net: Option<Network>,
    cfg: Option<ProxyConfig>,
    pipes: Vec<Pipe>,
    next_backend: usize,
    admin: Option<UdpSocket>,
    stats: ProxyStats,
    next_report_ns: u64,
}

impl Proxy {
    fn report(&self, core: &Core) -> Option<Report<'_>> {
        let net = self.net.as_ref()?;
        Some(Report {
            core: core.id(),
            queue: net.stack.queue(),
            stats: &self.stats,
            backends: self.cfg.as_ref().map_or(0, |c| c.backends.len()),
            open: self.pipes.len(),
            net: net.stack.counters().snapshot(),
        })
    }

    /// Final line, then this core is done.
    fn stop(&mut self, core: &Core) -> Step {
        if let Some(net) = self.net.as_mut() {
            for p in &mut self.pipes {
                p.abort(&mut net.stack);
            }
        }
        match self.report(core) {
            Some(r) => corenet::println!("{r}"),
            None => corenet::println!("proxy: core {} idle (no queue)", core.id()),
        }
        Step::Done(corenet::exit_code::SUCCESS)
    }
}

impl Appliance for Proxy {
    const NAME: &'static str = "proxy";

    fn init(core: &mut Core) -> Self {
        let mut p = Proxy {
            net: None,
            cfg: None,
            pipes: Vec::new(),
            next_backend: core.id(),
            admin: None,
            stats: ProxyStats::default(),
            next_report_ns: 0,
        };
        let cfg = config::parse(core.cmdline().0).unwrap_or_else(|e| {
            boot_fail(format_args!(
                "proxy: bad command line: {e:?} (want backends=a.b.c.d:port or [ipv6]:port,...)"
            ))
        });
        let Some(mut net) = Network::start_or_stop(core, &AppMemory::default(), Self::NAME) else {
            p.cfg = Some(cfg);
            return p;
        };
        let s = &mut net.stack;
        s.listen(cfg.listen)
            .unwrap_or_else(|e| panic!("listen {}: {e:?}", cfg.listen));
        if cfg.admin != 0 {
            p.admin = s.udp_bind(cfg.admin).ok();
        }
        if core.id() == 0 {
            corenet::log::info!(
                "proxy: port {} -> {} backends {:?}, admin udp {}, {} cores",
                cfg.listen,
                cfg.backends.len(),
                cfg.backends.as_slice(),
                cfg.admin,
                core.count()
            );
        }
        p.net = Some(net);
        p.cfg = Some(cfg);
        p
    }

    fn poll(&mut self, core: &mut Core) -> Step {
        if STOP.load(Ordering::Relaxed) {
            return self.stop(core);
        }
        let Some(cfg) = self.cfg.as_ref() else {
            return Step::Done(corenet::exit_code::FAILURE);
        };
        let Some(net) = self.net.as_mut() else {
            return Step::Idle;
        };
        let report = net.poll(core);
        let mut work = report.rx_frames > 0;
        let stack = &mut net.stack;
        let n = cfg.backends.len();
        while let Ok(client) = stack.accept(cfg.listen) {
            work = true;
            self.stats.accepted += 1;
            let i = self.next_backend % n;
            self.next_backend = self.next_backend.wrapping_add(1);
            match stack.connect(cfg.backends[i]) {
                Ok(backend) => {
                    self.stats.per_backend[i] += 1;
                    self.pipes.push(Pipe::new(client, backend, PIPE_BUFFER));
                }
                Err(e) => {
                    corenet::log::debug!("proxy: connect to backend {i}: {e:?}");
                    self.stats.connect_failed += 1;
                    let _ = stack.close(client);
                }
            }
        }
        let stats = &mut self.stats;
        self.pipes.retain_mut(|p| {
            let (outcome, moved) = p.pump(stack);
            if moved.up + moved.down > 0 {
                work = true;
            }
            stats.bytes_up += moved.up as u64;
            stats.bytes_down += moved.down as u64;
            match outcome {
                Outcome::Open => return true,
                Outcome::Done => stats.done += 1,
                Outcome::ConnectFailed => stats.connect_failed += 1,
                Outcome::Aborted => stats.aborted += 1,
            }
            work = true;
            false
        });
        if let Some(u) = self.admin {
            let mut buf = [0u8; 64];
            while let Ok((len, _from)) = stack.udp_recv_from(u, &mut buf) {
                if buf[..len].starts_with(b"corenet-stop") {
                    corenet::log::info!("proxy: stop requested (core {})", core.id());
                    STOP.store(true, Ordering::Relaxed);
                }
            }
        }
        let now = core.now_ns();
        if now >= self.next_report_ns {
            self.next_report_ns = now + REPORT_NS;
            if let Some(r) = self.report(core) {
                corenet::log::debug!("{r}");
            }
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
        Some(at.min(self.next_report_ns))
    }
}

corenet::appliance!(Proxy);
