//! virtio-net feature bits (5.1.3) and the driver's negotiation policy.

/// Device handles packets with partial checksum (transmit checksum offload).
pub const CSUM: u64 = 1 << 0;
/// Driver handles packets with partial checksum (receive checksum validation).
pub const GUEST_CSUM: u64 = 1 << 1;
/// Device has a MAC address in its config space.
pub const MAC: u64 = 1 << 5;
/// Driver can merge receive buffers (we post full-size buffers and do not need it).
pub const MRG_RXBUF: u64 = 1 << 15;
/// Config `status` field (link up) is available.
pub const STATUS: u64 = 1 << 16;
/// Control virtqueue is available.
pub const CTRL_VQ: u64 = 1 << 17;
/// Multiple queue pairs, selected with `VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET`.
pub const MQ: u64 = 1 << 22;
/// `used_event` / `avail_event` notification suppression (2.7.10).
pub const EVENT_IDX: u64 = 1 << 29;
/// Modern (non-legacy) device (6.1).
pub const VERSION_1: u64 = 1 << 32;
/// Device reports the RSS hash of each received frame in the header.
pub const HASH_REPORT: u64 = 1 << 57;
/// Device steers by a driver-programmed Toeplitz key and indirection table.
pub const RSS: u64 = 1 << 60;

/// What the driver asks for beyond the mandatory set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeatureWish {
    /// Negotiate CSUM and GUEST_CSUM (the stack then skips software checksums where allowed).
    pub checksum_offload: bool,
    /// Negotiate RSS (and HASH_REPORT) when offered. Off forces the device-steering fallback.
    pub rss: bool,
    /// Negotiate MQ when offered. Off forces the single-queue fallback.
    pub multi_queue: bool,
}

impl Default for FeatureWish {
    fn default() -> Self {
        Self {
            checksum_offload: true,
            rss: true,
            multi_queue: true,
        }
    }
}

/// The features the driver accepts out of `offered`.
///
/// Dependencies from 5.1.3.1 are enforced: MQ, RSS and HASH_REPORT need CTRL_VQ. We only take
/// RSS with MQ, and HASH_REPORT together with RSS, because the hash types are programmed by the RSS command.
/// MRG_RXBUF is never taken: receive buffers hold a whole frame, so merging buys nothing.
pub fn negotiate(offered: u64, wish: FeatureWish) -> u64 {
    let mut want = VERSION_1 | MAC | STATUS | CTRL_VQ | EVENT_IDX;
    if wish.multi_queue {
        want |= MQ;
        if wish.rss {
            want |= RSS | HASH_REPORT;
        }
    }
    if wish.checksum_offload {
        want |= CSUM | GUEST_CSUM;
    }
    let mut f = offered & want;
    if f & CTRL_VQ == 0 {
        f &= !(MQ | RSS | HASH_REPORT);
    }
    if f & MQ == 0 {
        // One queue pair: RSS has nothing to steer; software steering takes over.
        f &= !RSS;
    }
    if f & RSS == 0 {
        f &= !HASH_REPORT;
    }
    f
}

/// Length of `virtio_net_hdr` (5.1.6): 12 bytes with VERSION_1 (`num_buffers` always present),
/// 20 with HASH_REPORT (`hash_value`, `hash_report`, padding).
pub fn header_len(features: u64) -> usize {
    if features & HASH_REPORT != 0 { 20 } else { 12 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_everything_useful_and_nothing_else() {
        let offered = u64::MAX;
        let f = negotiate(offered, FeatureWish::default());
        for b in [
            VERSION_1,
            MAC,
            STATUS,
            CTRL_VQ,
            MQ,
            RSS,
            HASH_REPORT,
            EVENT_IDX,
            CSUM,
            GUEST_CSUM,
        ] {
            assert_ne!(f & b, 0, "bit {b:#x}");
        }
        assert_eq!(f & MRG_RXBUF, 0);
        assert_eq!(f & (1 << 34), 0, "packed ring must not be taken");
        assert_eq!(header_len(f), 20);
    }

    #[test]
    fn dependencies_and_wishes() {
        let no_ctrl = negotiate(!CTRL_VQ, FeatureWish::default());
        assert_eq!(no_ctrl & (MQ | RSS | HASH_REPORT), 0);
        let only_hash = negotiate(
            VERSION_1 | CTRL_VQ | MQ | HASH_REPORT,
            FeatureWish::default(),
        );
        assert_eq!(only_hash & HASH_REPORT, 0);
        assert_eq!(header_len(only_hash), 12);
        let no_rss = negotiate(
            u64::MAX,
            FeatureWish {
                rss: false,
                ..FeatureWish::default()
            },
        );
        assert_eq!(no_rss & (RSS | HASH_REPORT), 0);
        assert_ne!(no_rss & MQ, 0);
        let plain = negotiate(
            u64::MAX,
            FeatureWish {
                checksum_offload: false,
                multi_queue: false,
                rss: true,
            },
        );
        assert_eq!(plain & (CSUM | GUEST_CSUM | MQ | RSS), 0);
    }
}
