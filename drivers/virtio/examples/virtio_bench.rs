//! Instructions per packet of the driver's receive + transmit path against the fake device.
//!
//! Each round the fake device fills `batch` receive buffers (`device_step`), then the driver
//! (`driver_step`) harvests them with one `rx_burst`, and for each frame allocates a transmit
//! buffer, touches it, submits it and releases the receive buffer, then flushes once; the
//! device completes the transmits in `device_step`. Only `driver_step` is counted, with
//! callgrind's `--toggle-collect` (see `docs/virtio.md`), so the fake device's cost is excluded.
//!
//! Usage: `virtio_bench <batch> <packets>`.

use corenet_nic::{Offload, RssConfig, RxFrame, RxQueue, TxQueue};
use corenet_virtio::fake::{DeviceSpec, FakeDevice, FakeDma, FakeNotify, FakeTransport};
use corenet_virtio::{NetConfig, VirtioNet, VirtioPair};

#[inline(never)]
fn driver_step(p: &mut VirtioPair, out: &mut [RxFrame]) -> usize {
    let n = p.rx.rx_burst(out);
    for f in &out[..n] {
        let first = p.rx.frame(f).first().copied().unwrap_or(0);
        if let Some(s) = p.tx.alloc() {
            p.tx.buffer(&s)[0] = first;
            p.tx.submit(s, usize::from(f.len), Offload::default());
        }
        p.rx.release(*f);
    }
    p.tx.flush();
    n
}

#[inline(never)]
fn device_step(dev: &FakeDevice, hdr: &[u8], frames: &[&[u8]]) {
    dev.rx_deliver(0, hdr, frames);
    dev.tx_complete_count(1);
    // A polling device that always wants to hear about new buffers (worst case: a doorbell
    // per batch on both queues).
    dev.want_notify(0);
    dev.want_notify(1);
}

fn main() {
    let mut args = std::env::args().skip(1);
    let batch: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(32);
    let packets: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(320_000);
    let (t, dev) = FakeTransport::new_pair(DeviceSpec::default());
    let mut dma = FakeDma::default();
    let cfg = NetConfig::new(RssConfig::new(1).expect("one queue"));
    let (_net, mut pairs) =
        VirtioNet::new(t, FakeNotify::default(), &mut dma, &cfg).expect("fake device init");
    let p = &mut pairs[0];
    let mut hdr = [0u8; 20];
    hdr[10] = 1;
    let frame = [0x5au8; 60];
    let frames = vec![&frame[..]; batch];
    let mut out = vec![RxFrame::default(); batch];
    let mut done = 0;
    while done < packets {
        device_step(&dev, &hdr, &frames);
        let n = driver_step(p, &mut out);
        assert_eq!(n, batch, "fake device delivered a full batch");
        done += n;
    }
    let rx = p.rx.counters().snapshot();
    let tx = p.tx.counters().snapshot();
    println!(
        "batch {batch}: {done} packets; rx {} pkts {} doorbells {} errors; tx {} pkts {} doorbells {} errors",
        rx.packets, rx.doorbells, rx.errors, tx.packets, tx.doorbells, tx.errors
    );
}
