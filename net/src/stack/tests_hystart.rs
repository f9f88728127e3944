//! HyStart++ (`StackConfig::tcp_hystart`, smoltcp patch 15) on the simulated long path of
//! `tests_pacing` (10 MB/s bottleneck, 50 ms) with a deeper queue: with a 1 MiB window, more
//! than the path and its queue hold, slow start ends on the rising round trip, and the queue
//! overflows later and less.

extern crate std;

use super::tests_pacing::through_bottleneck_with;

/// The bottleneck's queue, frames: 256 (39 ms at 10 MB/s).
const QUEUE: usize = 256;

/// Paced, 1 MiB buffers, for 2 virtual seconds, with and without HyStart++.
///
/// Without it slow start runs until the queue drops frames (twice the window per round trip
/// is more than the bottleneck carries), and Reno halves; with it the queue's delay ends
/// slow start first. With `tests_pacing`'s 64-frame queue (9.7 ms, under the 6.5 ms
/// threshold plus a round trip's growth) it made no difference: the round-trip samples of a
/// round see at most 6 ms of queue before the first drop.
#[test]
fn slow_start_ends_before_the_queue_overflows() {
    let run = |hystart: bool| {
        through_bottleneck_with(QUEUE, |c| {
            c.tcp_buffer_auto_max = 1024 * 1024;
            c.tcp_pacing = true;
            c.tcp_hystart = hystart;
        })
    };
    let plain = run(false);
    let hy = run(true);
    std::println!(
        "without: {} bytes, {} dropped, {} recoveries, {} RTOs; with HyStart++: {} bytes, {} dropped, {} recoveries, {} RTOs",
        plain.got,
        plain.dropped,
        plain.recoveries,
        plain.rtos,
        hy.got,
        hy.dropped,
        hy.recoveries,
        hy.rtos
    );
    std::println!(
        "HyStart++: {} rises, {} exits",
        hy.hystart_rises,
        hy.hystart_exits
    );
    assert_eq!((plain.hystart_rises, plain.hystart_exits), (0, 0));
    assert!(hy.hystart_rises >= 1, "the queue's delay was seen");
    assert!(plain.dropped > 0, "without HyStart++ the queue overflows");
    // Measured: without, 118 frames dropped and 3.3 MB delivered; with, 45 and 5.0 MB (slow
    // start ends late enough that Conservative Slow Start still overflows the queue once).
    assert!(
        hy.dropped * 2 <= plain.dropped,
        "with HyStart++ fewer frames are lost: {} vs {}",
        hy.dropped,
        plain.dropped
    );
    assert!(hy.rtos == 0);
    assert!(hy.got > plain.got * 5 / 4, "{} vs {}", hy.got, plain.got);
}
