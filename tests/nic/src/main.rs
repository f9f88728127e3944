//! In-QEMU NIC steering test (driven by `tests/qemu/nic-rss.sh`).
//!
//! Core 0 brings up the virtio-net device with one queue pair per core and RSS; every core
//! then polls its own receive queue. For each IPv4 TCP/UDP frame it computes the queue the
//! programmed steering table names for the frame's 4-tuple and counts a match when that is
//! its own queue. With a single queue (no multi-queue device), core 0 receives everything and
//! hands each frame's 4-tuple to the core the table names over bounded SPSC rings, which count
//! it: the software fallback. A UDP datagram to port 9 starting with `corenet-done` ends the
//! run; core 0 then prints one line per queue and a summary, and exits 0 only if no frame
//! landed on the wrong core and every core got traffic.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use corenet::netdev::{self, NicInfo};
use corenet::network::{NetRx, NetTx, split};
use corenet::raw::nic::{RssConfig, RxFrame, RxQueue};
use corenet::raw::virtio::Steering;
use corenet::raw::virtio::steer::{Rings, Spreader, target_queue};
use corenet::{Appliance, Core, Step};
use heapless::spsc::Consumer;
use spin::Mutex;

extern crate alloc;

const MAX: usize = corenet::raw::kernel::cpu::MAX_CORES;
const GRACE_NS: u64 = 1_000_000_000;

static DONE: AtomicBool = AtomicBool::new(false);
/// Flow frames the host says it sent (from the done datagram).
static EXPECTED: AtomicU64 = AtomicU64::new(0);
static RINGS_READY: AtomicBool = AtomicBool::new(false);
static FINISHED: AtomicUsize = AtomicUsize::new(0);
static FRAMES: [AtomicU64; MAX] = [const { AtomicU64::new(0) }; MAX];
static MATCHED: [AtomicU64; MAX] = [const { AtomicU64::new(0) }; MAX];
static WRONG: [AtomicU64; MAX] = [const { AtomicU64::new(0) }; MAX];
static OTHER: [AtomicU64; MAX] = [const { AtomicU64::new(0) }; MAX];
/// Software fallback: core 0 hands each frame's ports to the core the table names over the
/// driver's bounded SPSC rings; each core takes its consumer end once, at init.
const RING: usize = 512;
type Tag = u32;
static CONSUMERS: [Mutex<Option<Consumer<'static, Tag>>>; MAX] = [const { Mutex::new(None) }; MAX];
static SPREAD_DROPS: AtomicU64 = AtomicU64::new(0);

struct NicTest {
    spreader: Option<Spreader<'static, Tag, MAX>>,
    consumer: Option<Consumer<'static, Tag>>,
    pair: Option<(NetRx, NetTx)>,
    info: Option<NicInfo>,
    done_at: Option<u64>,
    next_report_ns: u64,
}

/// (src, dst, sport, dport) of an IPv4 or IPv6 TCP/UDP frame, or the done marker.
enum Parsed {
    Flow([u8; 4], [u8; 4], u16, u16),
    Flow6([u8; 16], [u8; 16], u16, u16),
    Done(u64),
    Other,
}

/// IPv6 TCP/UDP directly after the fixed header.
fn parse6(f: &[u8]) -> Parsed {
    let Some(ip) = f.get(14..58) else {
        return Parsed::Other;
    };
    if ip[0] >> 4 != 6 || (ip[6] != 6 && ip[6] != 17) {
        return Parsed::Other;
    }
    let mut src = [0u8; 16];
    let mut dst = [0u8; 16];
    src.copy_from_slice(&ip[8..24]);
    dst.copy_from_slice(&ip[24..40]);
    let sport = u16::from_be_bytes([ip[40], ip[41]]);
    let dport = u16::from_be_bytes([ip[42], ip[43]]);
    Parsed::Flow6(src, dst, sport, dport)
}

fn parse(f: &[u8]) -> Parsed {
    if f.get(12..14) == Some(&[0x86, 0xdd]) {
        return parse6(f);
    }
    if f.len() < 14 + 20 || f[12..14] != [0x08, 0x00] {
        return Parsed::Other;
    }
    let ip = &f[14..];
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let proto = ip[9];
    if ip[0] >> 4 != 4 || ihl < 20 || ip.len() < ihl + 8 || (proto != 6 && proto != 17) {
        return Parsed::Other;
    }
    let l4 = &ip[ihl..];
    let src = [ip[12], ip[13], ip[14], ip[15]];
    let dst = [ip[16], ip[17], ip[18], ip[19]];
    let sport = u16::from_be_bytes([l4[0], l4[1]]);
    let dport = u16::from_be_bytes([l4[2], l4[3]]);
    if proto == 17 && dport == 9 && l4.get(8..20) == Some(b"corenet-done") {
        let count = l4
            .get(21..)
            .and_then(|b| core::str::from_utf8(b).ok())
            .and_then(|t| t.trim().parse().ok());
        return Parsed::Done(count.unwrap_or(0));
    }
    Parsed::Flow(src, dst, sport, dport)
}

/// Counts one received frame on `core`; in software mode hands it to its core instead.
fn account(
    spreader: Option<&mut Spreader<'static, Tag, MAX>>,
    core: usize,
    rss: &RssConfig,
    frame: &[u8],
) {
    let (want, sp, dp) = match parse(frame) {
        Parsed::Done(n) => {
            EXPECTED.store(n, Ordering::Relaxed);
            DONE.store(true, Ordering::Release);
            return;
        }
        Parsed::Other => {
            add(&OTHER[core], 1);
            return;
        }
        Parsed::Flow(s, d, sp, dp) => (usize::from(rss.queue_ipv4_l4(s, d, sp, dp)), sp, dp),
        Parsed::Flow6(s, d, sp, dp) => (usize::from(rss.queue_ipv6_l4(s, d, sp, dp)), sp, dp),
    };
    if device_steering() {
        // The device's own policy: not predictable, only counted.
        add(&FRAMES[core], 1);
        return;
    }
    if let Some(spreader) = spreader {
        // The driver's classifier must agree with this test's own parse.
        if usize::from(target_queue(rss, frame)) != want {
            add(&WRONG[core], 1);
            return;
        }
        let tag = (u32::from(sp) << 16) | u32::from(dp);
        if spreader.send(want as u16, tag).is_err() {
            add(&SPREAD_DROPS, 1);
        }
    } else {
        add(&FRAMES[core], 1);
        add(
            if want == core {
                &MATCHED[core]
            } else {
                &WRONG[core]
            },
            1,
        );
    }
}

static DEVICE_STEERING: AtomicBool = AtomicBool::new(false);

fn device_steering() -> bool {
    DEVICE_STEERING.load(Ordering::Relaxed)
}

fn add(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

impl Appliance for NicTest {
    const NAME: &'static str = "nic-tests";

    fn init(core: &mut Core) -> Self {
        if core.id() == 0 {
            let _ = netdev::bring_up(core);
        }
        let info = netdev::info(core).as_ref().ok().cloned();
        let pair = netdev::take_queues(core).map(split);
        let software = info
            .as_ref()
            .is_some_and(|i| i.steering == Steering::Software);
        if info
            .as_ref()
            .is_some_and(|i| i.steering == Steering::Device)
        {
            DEVICE_STEERING.store(true, Ordering::Relaxed);
        }
        let mut spreader = None;
        if software && core.id() == 0 {
            let rings: &'static mut Rings<Tag, MAX, RING> =
                alloc::boxed::Box::leak(alloc::boxed::Box::default());
            let (sp, consumers) = rings.split();
            for (c, consumer) in consumers.into_iter().enumerate() {
                *CONSUMERS[c].lock() = Some(consumer);
            }
            spreader = Some(sp);
            RINGS_READY.store(true, Ordering::Release);
        }
        let mut consumer = None;
        if software {
            let deadline = core.now_ns() + 60_000_000_000;
            while !RINGS_READY.load(Ordering::Acquire) && core.now_ns() < deadline {
                core::hint::spin_loop();
            }
            consumer = CONSUMERS[core.id()].lock().take();
        }
        NicTest {
            spreader,
            consumer,
            pair,
            info,
            done_at: None,
            next_report_ns: 0,
        }
    }

    fn poll(&mut self, core: &mut Core) -> Step {
        let id = core.id();
        let Some(info) = self.info.as_ref() else {
            corenet::println!("nic-tests: no NIC: {:?}", netdev::info(core));
            return Step::Done(1);
        };
        let rss = info.rss.clone().unwrap_or_else(|| {
            RssConfig::with_key(netdev::rss_key(core), core.count())
                .unwrap_or_else(|_| unreachable!())
        });
        let mut busy = false;
        if let Some(pair) = self.pair.as_mut() {
            let mut frames = [RxFrame::default(); 32];
            let n = pair.0.rx_burst(&mut frames);
            for f in &frames[..n] {
                account(self.spreader.as_mut(), id, &rss, pair.0.frame(f));
                pair.0.release(*f);
            }
            busy = n > 0;
        }
        if core.now_ns() >= self.next_report_ns {
            self.next_report_ns = core.now_ns() + 2_000_000_000;
            if let Some(pair) = self.pair.as_ref() {
                let c = pair.0.counters().snapshot();
                corenet::log::debug!("queue {id}: rx {c:?}");
            }
        }
        // Software fallback: count what core 0 handed us.
        if let Some(c) = self.consumer.as_mut() {
            while c.dequeue().is_some() {
                add(&FRAMES[id], 1);
                add(&MATCHED[id], 1);
                busy = true;
            }
        }
        if DONE.load(Ordering::Acquire) {
            let now = core.now_ns();
            let t = *self.done_at.get_or_insert(now);
            if now - t > GRACE_NS {
                let info = info.clone();
                return self.finish(core, &info);
            }
        }
        if busy { Step::Busy } else { Step::Idle }
    }
}

impl NicTest {
    fn finish(&mut self, core: &Core, info: &NicInfo) -> Step {
        FINISHED.fetch_add(1, Ordering::AcqRel);
        if core.id() != 0 {
            return Step::Done(0);
        }
        while FINISHED.load(Ordering::Acquire) < core.count() {
            core::hint::spin_loop();
        }
        let (mut total, mut wrong, mut hit) = (0, 0, 0);
        for c in 0..core.count() {
            let (f, m, w, o) = (
                FRAMES[c].load(Ordering::Relaxed),
                MATCHED[c].load(Ordering::Relaxed),
                WRONG[c].load(Ordering::Relaxed),
                OTHER[c].load(Ordering::Relaxed),
            );
            corenet::println!(
                "nic-tests: core {c}: flow_frames={f} on_predicted_core={m} on_wrong_core={w} other_frames={o}"
            );
            total += f;
            wrong += w;
            hit += usize::from(f > 0);
        }
        let drops = SPREAD_DROPS.load(Ordering::Relaxed);
        let expected = EXPECTED.load(Ordering::Relaxed);
        // Every flow frame arrived exactly once, none on the wrong core, every core got some
        // (with the device's own steering only the total is checked).
        let spread_ok = device_steering() || hit == core.count();
        let ok = wrong == 0 && drops == 0 && total == expected && expected > 0 && spread_ok;
        corenet::println!(
            "nic-tests: {} transport={} steering={:?} pairs={} flow_frames={total} expected={expected} wrong_core={wrong} cores_with_traffic={hit}/{} spread_drops={drops}",
            if ok { "PASS" } else { "FAIL" },
            info.transport,
            info.steering,
            info.pairs,
            core.count()
        );
        Step::Done(u8::from(!ok))
    }
}

corenet::appliance!(NicTest);
