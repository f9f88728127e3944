//! Out-of-order data our side keeps (smoltcp's assembler, `assembler-max-segment-count-32`
//! in net/Cargo.toml): a flight from the peer with many holes is repaired by resending the
//! holes alone, not the data between them.

extern crate std;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::vec::Vec;

use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

use super::tests_recovery::tcp_seg;
use super::*;
use crate::sim::SimNic;
use crate::testkit::{OUR_IP, PEER_IP, PEER_MAC, Peer, cores_with, ip4, run};

/// Payload of a full segment from the peer (MSS 1460, no options).
const MSS: u32 = 1460;

/// Times each of the peer's data segments (by offset in its stream) was sent.
type Sends = Rc<RefCell<BTreeMap<u32, u32>>>;

/// The peer's end of the simulated wire, dropping the first transmission of chosen segments.
struct Lossy {
    nic: SimNic,
    sends: Sends,
    isn: Rc<RefCell<Option<u32>>>,
    lost: &'static [u32],
}

impl Device for Lossy {
    type RxToken<'a> = Rx;
    type TxToken<'a> = Tx<'a>;

    fn receive(&mut self, _now: Instant) -> Option<(Rx, Tx<'_>)> {
        let f = self.nic.take_sent()?;
        Some((Rx(f), Tx(self)))
    }

    fn transmit(&mut self, _now: Instant) -> Option<Tx<'_>> {
        Some(Tx(self))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = crate::device::ETHERNET_MTU;
        caps
    }
}

struct Rx(Vec<u8>);

impl phy::RxToken for Rx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

struct Tx<'a>(&'a Lossy);

impl phy::TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut buf = std::vec![0; len];
        let r = f(&mut buf);
        let d = self.0;
        if let Some((seq, n, syn)) = tcp_seg(&buf) {
            if syn {
                *d.isn.borrow_mut() = Some(seq.wrapping_add(1));
            } else if let (Some(isn), true) = (*d.isn.borrow(), n > 0) {
                let off = seq.wrapping_sub(isn);
                let mut sends = d.sends.borrow_mut();
                let times = sends.entry(off).or_insert(0);
                *times += 1;
                if *times == 1 && off % MSS == 0 && d.lost.contains(&(off / MSS)) {
                    return r;
                }
            }
        }
        d.nic.deliver(buf);
        r
    }
}

/// The peer sends 100 full segments to our side at once, losing the first transmission of
/// every segment in `lost`; the segments (by index) it sent more than once, with how often.
fn resent_by_peer(lost: &'static [u32]) -> Vec<(u32, u32)> {
    let rss = RssConfig::new(1).unwrap();
    let nic = SimNic::new(rss.clone(), 4096);
    let mut cores = cores_with(&nic, &rss, false, |c| c.tcp_buffer = 256 * 1024);
    let sends = Sends::default();
    let dev = Lossy {
        nic: nic.clone(),
        sends: sends.clone(),
        isn: Rc::default(),
        lost,
    };
    let mut peer = Peer::on(dev, PEER_MAC, PEER_IP, 99);
    cores[0].listen(5001).unwrap();
    let ph = peer.open((ip4(OUR_IP), 5001), 41_000, 256 * 1024);
    let mut now = 0;
    run(&mut cores, &mut peer, &mut now, 10);
    let h = cores[0].accept(5001).unwrap();
    let len = 100 * MSS as usize;
    let data: Vec<u8> = (0..len).map(|i| (i % 253) as u8).collect();
    // A window of 100 segments from the start, so the whole flight leaves at once.
    peer.tcp(ph)
        .set_congestion_control(smoltcp::socket::tcp::CongestionControl::None);
    assert_eq!(peer.tcp(ph).send_slice(&data), Ok(len));
    let mut got = Vec::new();
    let mut buf = std::vec![0u8; 64 * 1024];
    for _ in 0..2000 {
        run(&mut cores, &mut peer, &mut now, 1);
        while let Ok(n) = cores[0].recv(h, &mut buf) {
            got.extend_from_slice(&buf[..n]);
        }
        if got.len() == len {
            break;
        }
    }
    assert!(got == data, "{} of {len} octets, intact", got.len());
    let sends = sends.borrow();
    sends
        .iter()
        .filter(|&(_, &n)| n > 1)
        .map(|(&off, &n)| (off / MSS, n))
        .collect()
}

/// Six holes in one flight: the data between them is kept (it needs seven ranges), so the
/// peer resends the six segments and nothing else. With smoltcp's default of four ranges
/// the segments that would open a fifth were dropped and sent again too.
#[test]
fn data_between_six_holes_is_kept() {
    let lost = &[10, 20, 30, 40, 50, 60];
    assert_eq!(
        resent_by_peer(lost),
        [(10, 2), (20, 2), (30, 2), (40, 2), (50, 2), (60, 2)]
    );
}
