//! The other host's end of the simulated wire, as a plain smoltcp device.

use alloc::vec;
use alloc::vec::Vec;

use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

use super::SimNic;

/// The peer host's end of the wire, as a plain smoltcp device.
pub struct PeerDevice {
    nic: SimNic,
}

impl PeerDevice {
    pub(super) fn new(nic: SimNic) -> Self {
        Self { nic }
    }
}

impl Device for PeerDevice {
    type RxToken<'a> = PeerRxToken;
    type TxToken<'a> = PeerTxToken<'a>;

    fn receive(&mut self, _now: Instant) -> Option<(PeerRxToken, PeerTxToken<'_>)> {
        let frame = self.nic.take_sent()?;
        Some((PeerRxToken(frame), PeerTxToken(&self.nic)))
    }

    fn transmit(&mut self, _now: Instant) -> Option<PeerTxToken<'_>> {
        Some(PeerTxToken(&self.nic))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = crate::device::ETHERNET_MTU;
        caps
    }
}

/// A frame for the peer.
pub struct PeerRxToken(Vec<u8>);

impl phy::RxToken for PeerRxToken {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

/// A frame from the peer, steered on send.
pub struct PeerTxToken<'a>(&'a SimNic);

impl phy::TxToken for PeerTxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut buf = vec![0; len];
        let r = f(&mut buf);
        self.0.deliver(buf);
        r
    }
}
