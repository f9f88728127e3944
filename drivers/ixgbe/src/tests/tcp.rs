//! A real TCP connection over the driver and the model: smoltcp on the driver's queues talks to
//! a smoltcp peer on the model's wire (ARP, handshake, 200 KB echoed back), with TCP checksums
//! by smoltcp or by the device (transmit checksum offload; the peer verifies every segment).

use std::collections::VecDeque;
use std::vec;
use std::vec::Vec;

use corenet_net::testkit::{OUR_IP, PEER_IP, PEER_MAC, Peer, ip4};
use corenet_nic::{Offload, RxFrame, RxQueue, TxQueue, TxSlot};
use smoltcp::phy::{Checksum, Device, DeviceCapabilities, Medium, RxToken, TxToken};
use smoltcp::time::Instant;

use super::*;
use crate::model::Model82599;
use crate::{IxgbeRx, IxgbeTx};

/// A received frame, copied out (this test is about correctness, not copies).
struct Frame(Vec<u8>);

impl RxToken for Frame {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

/// smoltcp over one ixgbe queue pair.
struct DriverDev<'q> {
    rx: &'q mut IxgbeRx<Model82599>,
    tx: &'q mut IxgbeTx<Model82599>,
    pending: VecDeque<Vec<u8>>,
    /// smoltcp leaves TCP checksums to the device.
    offload: bool,
}

/// The offload request for a TCP/IPv4 frame smoltcp built with a zero checksum: the
/// pseudo-header sum goes into the checksum field, as the 82599 and virtio expect.
fn tcp_offload(f: &mut [u8]) -> Offload {
    if f.len() < 34 || f[12..14] != [0x08, 0x00] || f[23] != 6 {
        return Offload::default();
    }
    let ihl = usize::from(f[14] & 0xF) * 4;
    let total = usize::from(u16::from_be_bytes([f[16], f[17]]));
    let words = f[26..34]
        .chunks(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]));
    let mut sum: u32 = words.map(u32::from).sum::<u32>() + 6 + (total - ihl) as u32;
    while sum > 0xFFFF {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    let at = 14 + ihl + 16;
    f[at..at + 2].copy_from_slice(&(sum as u16).to_be_bytes());
    Offload {
        l4_csum: Some(((14 + ihl) as u16, 16)),
        tso: None,
    }
}

/// A transmit buffer already allocated, so consuming the token cannot fail; returned unused
/// if the token is dropped.
struct DriverTx<'q> {
    tx: &'q mut IxgbeTx<Model82599>,
    slot: Option<TxSlot>,
    offload: bool,
}

impl TxToken for DriverTx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(mut self, len: usize, f: F) -> R {
        let slot = self
            .slot
            .take()
            .expect("a token holds its slot until consumed");
        let buf = &mut self.tx.buffer(&slot)[..len];
        let r = f(buf);
        let off = if self.offload {
            tcp_offload(buf)
        } else {
            Offload::default()
        };
        self.tx.submit(slot, len, off);
        self.tx.flush();
        r
    }
}

impl Drop for DriverTx<'_> {
    fn drop(&mut self) {
        if let Some(s) = self.slot.take() {
            self.tx.cancel(s);
        }
    }
}

impl Device for DriverDev<'_> {
    type RxToken<'a>
        = Frame
    where
        Self: 'a;
    type TxToken<'a>
        = DriverTx<'a>
    where
        Self: 'a;

    fn receive(&mut self, _: Instant) -> Option<(Frame, DriverTx<'_>)> {
        if self.pending.is_empty() {
            let mut frames = [RxFrame::default(); 32];
            let n = self.rx.rx_burst(&mut frames);
            for f in &frames[..n] {
                self.pending.push_back(self.rx.frame(f).to_vec());
                self.rx.release(*f);
            }
        }
        let slot = self.tx.alloc()?;
        let frame = self.pending.pop_front();
        let tx = DriverTx {
            tx: self.tx,
            slot: Some(slot),
            offload: self.offload,
        };
        Some((Frame(frame?), tx))
    }

    fn transmit(&mut self, _: Instant) -> Option<DriverTx<'_>> {
        let slot = self.tx.alloc()?;
        Some(DriverTx {
            tx: self.tx,
            slot: Some(slot),
            offload: self.offload,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = 1514;
        if self.offload {
            caps.checksum.tcp = Checksum::Rx;
        }
        caps
    }
}

/// The peer at the other end of the model's wire.
struct PeerDev {
    model: Model82599,
    inbox: VecDeque<Vec<u8>>,
    /// Frames whose TCP/UDP checksum the device inserted.
    hw_csums: usize,
}

struct PeerTx(Model82599);

impl TxToken for PeerTx {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut buf = vec![0u8; len];
        let r = f(&mut buf);
        self.0.inject(&buf);
        r
    }
}

impl Device for PeerDev {
    type RxToken<'a> = Frame;
    type TxToken<'a> = PeerTx;

    fn receive(&mut self, _: Instant) -> Option<(Frame, PeerTx)> {
        if self.inbox.is_empty() {
            for f in self.model.take_tx() {
                self.hw_csums += usize::from(f.l4_csum);
                self.inbox.push_back(f.data);
            }
        }
        let f = self.inbox.pop_front()?;
        Some((Frame(f), PeerTx(self.model.clone())))
    }

    fn transmit(&mut self, _: Instant) -> Option<PeerTx> {
        Some(PeerTx(self.model.clone()))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = 1514;
        caps
    }
}

#[test]
fn tcp_echo_of_200_kb_over_the_driver_and_the_model() {
    let hw_csums = echo(false);
    assert_eq!(hw_csums, 0);
}

#[test]
fn tcp_echo_with_transmit_checksum_offload() {
    // The peer's smoltcp verifies every checksum: a wrong one would stall the transfer.
    let hw_csums = echo(true);
    assert!(hw_csums > 100, "{hw_csums} checksums by the device");
}

/// Echoes 200 KB through the peer; returns how many frames the device checksummed.
fn echo(offload: bool) -> usize {
    let (model, mut dev, mut pairs) = bring_up(1, 64);
    let pair = &mut pairs[0];
    let ddev = DriverDev {
        rx: &mut pair.rx,
        tx: &mut pair.tx,
        pending: VecDeque::new(),
        offload,
    };
    let pdev = PeerDev {
        model: model.clone(),
        inbox: VecDeque::new(),
        hw_csums: 0,
    };
    // Two of the kit's hosts: ours on the driver at OUR_IP, the peer on the model's wire.
    let mut ours = Peer::on(ddev, MAC, OUR_IP, 0);
    let mut peer = Peer::on(pdev, PEER_MAC, PEER_IP, 0);
    let server = peer.listen(7, 65536);
    let client = ours.open((ip4(PEER_IP), 7), 49152, 65536);

    let data = corenet_net::testkit::pattern::bytes(99, 200_000);
    let (mut sent, mut echoed) = (0usize, Vec::with_capacity(data.len()));
    let mut step = 0u64;
    while echoed.len() < data.len() {
        step += 1;
        assert!(
            step < 100_000,
            "stalled: sent {sent}, echoed {}",
            echoed.len()
        );
        model.advance(1_000);
        ours.poll(step * 1000);
        peer.poll(step * 1000);

        let c = ours.tcp(client);
        if c.can_send() && sent < data.len() {
            sent += c.send_slice(&data[sent..]).unwrap();
        }
        if c.can_recv() {
            c.recv(|b| {
                echoed.extend_from_slice(b);
                (b.len(), ())
            })
            .unwrap();
        }
        // The peer echoes whatever arrives.
        let s = peer.tcp(server);
        if s.can_recv() && s.can_send() {
            let mut buf = vec![0u8; s.send_capacity() - s.send_queue()];
            let n = s.recv_slice(&mut buf).unwrap();
            s.send_slice(&buf[..n]).unwrap();
        }
    }
    assert!(echoed == data, "every byte came back intact and in order");
    assert_eq!(model.faults(), 0);
    let ddev = &ours.dev;
    let (rx, tx) = (ddev.rx.counters().snapshot(), ddev.tx.counters().snapshot());
    assert_eq!((rx.errors, tx.errors), (0, 0));
    assert!(rx.packets > 100 && tx.packets > 100);
    // The device's own counters saw the same traffic.
    let hw = dev.stats().clone();
    assert_eq!(hw.rx_good_packets, rx.packets);
    assert_eq!(hw.tx_good_packets, tx.packets);
    assert_eq!(ddev.tx.software_checksums(), 0);
    peer.dev.hw_csums
}
