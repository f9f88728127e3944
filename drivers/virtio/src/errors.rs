//! `Display` and `core::error::Error` for the driver's public error enums.
//!
//! In one place so that the messages read alike. A wrapped error is part of the message (a
//! `no_std` log prints `Display` only), so `source()` is left at its default.

use core::fmt;

use crate::cmdline::MmioParseError;
use crate::ctrl::CtrlError;
use crate::device::InitError;
use crate::doorbell::DoorbellError;
use crate::pci::PciLocateError;
use crate::probe::{MmioProbeError, PciProbeError};

/// `Display` from one message per variant, and the marker `Error` impl.
macro_rules! messages {
    ($ty:ty { $($pat:pat => $($msg:expr),+;)+ }) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $($pat => write!(f, $($msg),+),)+
                }
            }
        }

        impl core::error::Error for $ty {}
    };
}

messages!(MmioParseError {
    Self::MissingAt => "virtio_mmio.device=: no `@` between size and address";
    Self::MissingIrq => "virtio_mmio.device=: no `:` before the irq";
    Self::BadSize => "virtio_mmio.device=: bad size";
    Self::BadAddress => "virtio_mmio.device=: bad address (or base + size overflows)";
    Self::BadIrq => "virtio_mmio.device=: the irq is not a decimal number";
});

messages!(DoorbellError {
    Self::OutOfRange { queue, offset } => "queue {}'s doorbell offset {:#x} is past the notify region", queue, offset;
});

messages!(CtrlError {
    Self::Timeout => "control command not completed in time";
    Self::Busy => "a timed-out control command still holds the queue";
    Self::Rejected => "the device rejected the control command";
    Self::BadResponse => "the device answered the control command with a bad ack or id";
});

messages!(PciLocateError {
    Self::NoCommonCfg => "no virtio common configuration capability";
    Self::NoNotifyCfg => "no (or a short) virtio notification capability";
    Self::OddMultiplier(m) => "odd notify_off_multiplier {}", m;
    Self::BadBar(b) => "virtio structure in unusable BAR {}", b;
});

messages!(InitError {
    Self::NotNetwork(t) => "not a network device ({:?})", t;
    Self::ResetTimeout => "device did not reset";
    Self::Legacy => "legacy virtio device (no VIRTIO_F_VERSION_1): unsupported";
    Self::FeaturesRejected => "device refused the negotiated features";
    Self::QueueUnavailable(q) => "queue {} unavailable (size 0 or in use)", q;
    Self::OutOfDmaMemory => "out of DMA memory";
    Self::Doorbell(e) => "doorbell: {}", e;
    Self::Ctrl(e) => "enabling the queue pairs: {}", e;
});

messages!(MmioProbeError {
    Self::Transport(e) => "virtio-mmio transport: {}", e;
    Self::Init(e) => "virtio-net: {}", e;
});

messages!(PciProbeError {
    Self::Transport(e) => "virtio-pci transport: {}", e;
    Self::Locate(e) => "virtio-pci: {}", e;
    Self::Init(e) => "virtio-net: {}", e;
});

#[cfg(test)]
mod tests {
    extern crate std;
    use std::string::ToString;

    use super::*;

    #[test]
    fn messages_carry_their_values() {
        let e = InitError::Doorbell(DoorbellError::OutOfRange {
            queue: 3,
            offset: 0x40,
        });
        assert_eq!(
            e.to_string(),
            "doorbell: queue 3's doorbell offset 0x40 is past the notify region"
        );
        assert_eq!(
            PciLocateError::BadBar(6).to_string(),
            "virtio structure in unusable BAR 6"
        );
    }
}
