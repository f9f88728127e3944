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
use corenet::nic::{RssConfig, RxFrame, RxQueue};
use corenet::virtio::{QueuePair, Steering};
use corenet::{Appliance, Core, Step};
use heapless::spsc::Queue;
use spin::Mutex;

const MAX: usize = corenet::kernel::cpu::MAX_CORES;
const GRACE_NS: u64 = 1_000_000_000;

static DONE: AtomicBool = AtomicBool::new(false);
static FINISHED: AtomicUsize = AtomicUsize::new(0);
static FRAMES: [AtomicU64; MAX] = [const { AtomicU64::new(0) }; MAX];
static MATCHED: [AtomicU64; MAX] = [const { AtomicU64::new(0) }; MAX];
static WRONG: [AtomicU64; MAX] = [const { AtomicU64::new(0) }; MAX];
static OTHER: [AtomicU64; MAX] = [const { AtomicU64::new(0) }; MAX];
/// Software fallback: 4-tuples from core 0 to the core the table names.
static SPREAD: [Mutex<Queue<u32, 256>>; MAX] = [const { Mutex::new(Queue::new()) }; MAX];
static SPREAD_DROPS: AtomicU64 = AtomicU64::new(0);

struct NicTest {
    pair: Option<QueuePair>,
    info: Option<NicInfo>,
    done_at: Option<u64>,
}

/// (src, dst, sport, dport) of an IPv4 TCP/UDP frame, or the done marker.
enum Parsed {
    Flow([u8; 4], [u8; 4], u16, u16),
    Done,
    Other,
}

fn parse(f: &[u8]) -> Parsed {
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
        return Parsed::Done;
    }
    Parsed::Flow(src, dst, sport, dport)
}

impl NicTest {
    fn account(&self, core: usize, rss: &RssConfig, p: Parsed) {
        match p {
            Parsed::Done => DONE.store(true, Ordering::Release),
            Parsed::Other => add(&OTHER[core], 1),
            Parsed::Flow(s, d, sp, dp) => {
                let want = usize::from(rss.queue_ipv4_l4(s, d, sp, dp));
                let software = self.info.as_ref().is_some_and(|i| i.steering == Steering::Software);
                if software {
                    // Core 0 received it; the table decides who counts it.
                    let tag = (u32::from(sp) << 16) | u32::from(dp);
                    let pushed = SPREAD[want].lock().enqueue(tag).is_ok();
                    if !pushed {
                        add(&SPREAD_DROPS_REF, 1);
                    }
                } else {
                    add(&FRAMES[core], 1);
                    add(if want == core { &MATCHED[core] } else { &WRONG[core] }, 1);
                }
            }
        }
    }
}

static SPREAD_DROPS_REF: AtomicU64 = AtomicU64::new(0);

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
        let pair = netdev::take_queues(core);
        NicTest { pair, info, done_at: None }
    }

    fn poll(&mut self, core: &mut Core) -> Step {
        let id = core.id();
        let Some(info) = self.info.clone() else {
            corenet::println!("nic-tests: no NIC: {:?}", netdev::info(core));
            return Step::Done(1);
        };
        let rss = info.rss.clone().unwrap_or_else(|| RssConfig::new(core.count()).unwrap_or_else(|_| unreachable!()));
        let mut busy = false;
        if let Some(pair) = self.pair.as_mut() {
            let mut frames = [RxFrame::default(); 32];
            let n = pair.rx.rx_burst(&mut frames);
            for f in &frames[..n] {
                let p = parse(pair.rx.frame(f));
                // `account` only reads `self.info`; the borrow of `pair` ends with `frame`.
                let me = NicTest { pair: None, info: Some(info.clone()), done_at: None };
                me.account(id, &rss, p);
                pair.rx.release(*f);
            }
            busy = n > 0;
        }
        // Software fallback: count what core 0 handed us.
        while let Some(tag) = SPREAD[id].lock().dequeue() {
            let _ = tag;
            add(&FRAMES[id], 1);
            add(&MATCHED[id], 1);
            busy = true;
        }
        if DONE.load(Ordering::Acquire) {
            let now = core.now_ns();
            let t = *self.done_at.get_or_insert(now);
            if now - t > GRACE_NS {
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
            corenet::println!("nic-tests: core {c}: flow_frames={f} on_predicted_core={m} on_wrong_core={w} other_frames={o}");
            total += f;
            wrong += w;
            hit += usize::from(f > 0);
        }
        let drops = SPREAD_DROPS_REF.load(Ordering::Relaxed) + SPREAD_DROPS.load(Ordering::Relaxed);
        let ok = wrong == 0 && total > 0 && hit == core.count();
        corenet::println!(
            "nic-tests: {} transport={} steering={:?} pairs={} flow_frames={total} wrong_core={wrong} cores_with_traffic={hit}/{} spread_drops={drops}",
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
