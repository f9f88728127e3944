//! The appliance contract: per-core init, one ready line, then a run-to-completion loop.
//!
//! An appliance implements [`Appliance`] and names itself with [`appliance!`](crate::appliance).
//! On every core the kernel calls [`Appliance::init`] (bring up queues, stacks, sockets), waits
//! until all cores have done so, prints `corenet: ready cores=N boot_us=...` once, and then
//! calls [`Appliance::poll`] in a loop on every core: each call is one pass of receive ->
//! process -> transmit. A pass that found no work returns [`Step::Idle`]; what the core does
//! then is the idle policy (`idle=` on the command line, see [`crate::idle`]): pause and poll
//! again, or after an idle period halt until a wake-up source fires ([`halt`]). An appliance
//! halts only if it implements [`Appliance::arm_wakeups`]. When every core has returned
//! [`Step::Done`], the machine exits with the highest code any core gave.

use core::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use corenet_boot::{BootInfo, Cmdline};

use crate::acpi::Platform;
use crate::cpu::wake;
use crate::idle::{self, Governor, HaltPlatform, IdlePolicy, Next, SleepOutcome, WakeReason};
use crate::machine::machine;
use crate::memory::dma::DmaPool;
use crate::{clock, cpu, exit, rand};

/// What one pass of an appliance's loop did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Work was done; poll again at once.
    Busy,
    /// Nothing to do; the core may pause before the next pass.
    Idle,
    /// This core is finished, with an exit code (0 = success).
    Done(u8),
}

/// A single-purpose program that runs on every core.
pub trait Appliance: Sized {
    /// Name shown in the ready line.
    const NAME: &'static str;
    /// Per-core set-up, before the ready line.
    fn init(core: &mut Core) -> Self;
    /// One pass of the run-to-completion loop.
    fn poll(&mut self, core: &mut Core) -> Step;
    /// The core is about to halt (interrupts off): enable every wake-up source for work that
    /// can arrive. False (the default) when some source cannot interrupt the core: it then
    /// never halts.
    fn arm_wakeups(&mut self, _core: &mut Core) -> bool {
        false
    }
    /// After a last pass found nothing: the time (ns, [`Core::now_ns`]'s clock) by which the
    /// core must be woken to run its timers; `None` when no timer is pending.
    fn next_deadline_ns(&mut self, _core: &mut Core) -> Option<u64> {
        None
    }
}

/// The per-core context an appliance gets: owned by its core, never shared.
pub struct Core {
    id: usize,
    count: usize,
    dma: DmaPool,
    rng: u64,
}

impl Core {
    /// This core's id: 0 is the bootstrap processor, ids are dense.
    pub fn id(&self) -> usize {
        self.id
    }

    /// Number of cores running the appliance.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Nanoseconds since boot (monotonic, same clock on every core).
    pub fn now_ns(&self) -> u64 {
        clock::now_ns()
    }

    /// This core's DMA memory (hugepage-backed, physically contiguous).
    pub fn dma(&mut self) -> &mut DmaPool {
        &mut self.dma
    }

    /// A fresh 64-bit seed from the best hardware source (see `rand`).
    pub fn seed(&self) -> u64 {
        rand::seed().0
    }

    /// A pseudo-random number from this core's generator (seeded from hardware at start).
    pub fn random(&mut self) -> u64 {
        rand::splitmix64(&mut self.rng)
    }

    /// The kernel command line.
    pub fn cmdline(&self) -> Cmdline<'static> {
        Cmdline(machine().boot.cmdline.as_str())
    }

    /// The loader's boot information.
    pub fn boot_info(&self) -> &'static BootInfo {
        machine().boot
    }

    /// ACPI facts (PCIe ECAM windows, processors).
    pub fn platform(&self) -> &'static Platform {
        &machine().platform
    }
}

static INITIALIZED: AtomicUsize = AtomicUsize::new(0);
static FINISHED: AtomicUsize = AtomicUsize::new(0);
static EXIT_CODE: AtomicU8 = AtomicU8::new(0);

unsafe extern "Rust" {
    /// Defined by the appliance binary through [`appliance!`](crate::appliance).
    fn __corenet_appliance(core: &mut Core) -> u8;
}

/// The per-core tail of boot: build the [`Core`] and run the appliance; never returns.
pub(crate) fn run_core(id: usize) -> ! {
    let m = machine();
    // SAFETY: core `id`'s pool range was carved for it alone by boot (RAM, identity mapped).
    let dma = unsafe { DmaPool::new(m.dma_base[id], m.config.dma) };
    let mut core = Core {
        id,
        count: m.cores,
        dma,
        rng: rand::seed().0,
    };
    // SAFETY: the symbol is defined by `appliance!` in the binary with this exact signature.
    let code = unsafe { __corenet_appliance(&mut core) };
    EXIT_CODE.fetch_max(code, Ordering::AcqRel);
    if FINISHED.fetch_add(1, Ordering::AcqRel) + 1 == m.cores {
        exit::exit(EXIT_CODE.load(Ordering::Acquire));
    }
    exit::halt_forever()
}

/// How long the slowest core may take in `init` before the machine gives up.
const INIT_TIMEOUT_NS: u64 = 120_000_000_000;

/// Runs appliance `A` on this core (called by the code [`appliance!`](crate::appliance)
/// generates).
pub fn run_appliance<A: Appliance>(core: &mut Core) -> u8 {
    let mut app = A::init(core);
    INITIALIZED.fetch_add(1, Ordering::AcqRel);
    let deadline = clock::now_ns() + INIT_TIMEOUT_NS;
    while INITIALIZED.load(Ordering::Acquire) < core.count {
        if clock::now_ns() > deadline {
            panic!(
                "core {} waited {} s for the other cores to finish init",
                core.id,
                INIT_TIMEOUT_NS / 1_000_000_000
            );
        }
        core::hint::spin_loop();
    }
    if core.id == 0 {
        print_ready::<A>(core.count);
    }
    let policy = machine().config.idle;
    let mut gov = Governor::new(policy);
    // Set after a halt: how long it lasted, to judge it by the pass that follows.
    let mut woke: Option<u64> = None;
    // One call site of `poll` (it is inlined, and the appliance's frame is large: two sites
    // would double this frame on every core's stack).
    loop {
        let t0 = cpu::rdtsc();
        let step = app.poll(core);
        if let Some(slept) = woke.take() {
            let why = if step == Step::Busy {
                WakeReason::Work
            } else {
                WakeReason::Nothing
            };
            gov.on_wake(slept, why);
        }
        match step {
            Step::Busy => {
                count_busy(core.id, t0);
                gov.on_pass(true, 0);
            }
            Step::Idle => {
                crate::memory::heap::drain_remote_frees();
                if policy == IdlePolicy::Poll || gov.on_pass(false, clock::now_ns()) == Next::Poll {
                    idle();
                    continue;
                }
                match halt(&mut app, core) {
                    Ok(Some(slept)) => woke = Some(slept),
                    Ok(None) => gov.on_refused(),
                    Err(code) => return code,
                }
            }
            Step::Done(code) => return code,
        }
    }
}

fn count_busy(core: usize, t0: u64) {
    let s = wake::stats(core);
    let dt = cpu::rdtsc().wrapping_sub(t0);
    s.busy_ticks
        .store(s.busy_ticks.load(Ordering::Relaxed) + dt, Ordering::Relaxed);
}

/// Longest halt: a bound on how late a timer the appliance did not report can run.
const MAX_HALT_NS: u64 = 100_000_000;

/// The hardware and the appliance behind one halt.
struct Halting<'a, A: Appliance> {
    app: &'a mut A,
    core: &'a mut Core,
    done: Option<u8>,
}

impl<A: Appliance> HaltPlatform for Halting<'_, A> {
    fn arm(&mut self) -> bool {
        self.app.arm_wakeups(self.core)
    }

    fn recheck(&mut self) -> bool {
        match self.app.poll(self.core) {
            Step::Idle => false,
            Step::Busy => true,
            Step::Done(code) => {
                self.done = Some(code);
                true
            }
        }
    }

    fn halt(&mut self) {
        let now = clock::now_ns();
        let deadline = self
            .app
            .next_deadline_ns(self.core)
            .unwrap_or(u64::MAX)
            .min(now.saturating_add(MAX_HALT_NS));
        let s = wake::stats(self.core.id);
        s.halts.fetch_add(1, Ordering::Relaxed);
        wake::arm_timer(deadline);
        let t0 = cpu::rdtsc();
        wake::halt_until_interrupt();
        let dt = cpu::rdtsc().wrapping_sub(t0);
        wake::disarm_timer();
        s.halted_ticks.fetch_add(dt, Ordering::Relaxed);
    }
}

/// Halts this core until a wake-up source fires, unless the last look finds work: `Ok(Some)`
/// with the ns halted, `Ok(None)` when refused, `Err(code)` when the appliance finished.
/// Never inlined: its own `poll` call (the last look) keeps its frame out of the loop's.
#[inline(never)]
pub fn halt<A: Appliance>(app: &mut A, core: &mut Core) -> Result<Option<u64>, u8> {
    wake::disable_interrupts();
    let t0 = clock::now_ns();
    let flag = wake::sleeper(core.id);
    let mut h = Halting {
        app,
        core,
        done: None,
    };
    let outcome = idle::sleep(flag, &mut h);
    // Interrupts stay off while polling: handlers have nothing to do for a running core.
    if let Some(code) = h.done {
        return Err(code);
    }
    match outcome {
        SleepOutcome::Woken => Ok(Some(clock::now_ns().saturating_sub(t0))),
        SleepOutcome::Refused => {
            wake::stats(h.core.id)
                .refused
                .fetch_add(1, Ordering::Relaxed);
            Ok(None)
        }
    }
}

/// What an idle core does between passes while it keeps polling: one `pause`.
#[inline]
pub fn idle() {
    core::hint::spin_loop();
}

fn print_ready<A: Appliance>(cores: usize) {
    let m = machine();
    crate::println!(
        "corenet: ready cores={} boot_us={} app={} tsc_mhz={} clock={} page={} x2apic={} random={} mem_mib={} protocol={}",
        cores,
        clock::since_boot_us(),
        A::NAME,
        m.tsc_hz / 1_000_000,
        m.clock.name(),
        if cpu::features::get().huge_1g {
            "1G"
        } else {
            "2M"
        },
        u8::from(cpu::apic::is_x2apic()),
        m.random.name(),
        m.boot.usable_bytes() >> 20,
        match m.boot.protocol {
            corenet_boot::Protocol::Pvh => "pvh",
            corenet_boot::Protocol::Multiboot2 => "multiboot2",
        }
    );
}

/// Declares the binary's appliance: `corenet::appliance!(MyApp);`
#[macro_export]
macro_rules! appliance {
    ($ty:ty) => {
        #[unsafe(no_mangle)]
        #[doc(hidden)]
        pub fn __corenet_appliance(core: &mut $crate::runtime::Core) -> u8 {
            $crate::runtime::run_appliance::<$ty>(core)
        }
    };
}
