//! virtio-net feature bits (5.1.3) and the driver's negotiation policy.

bitflags::bitflags! {
    /// virtio-net feature bits (5.1.3): what a device offers, what the driver accepts. Bits
    /// this driver does not name are kept (`from_bits_retain`), so an offer round-trips.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Features: u64 {
        /// Device handles packets with partial checksum (transmit checksum offload).
        const CSUM = 1 << 0;
        /// Driver handles packets with partial checksum (receive checksum validation).
        const GUEST_CSUM = 1 << 1;
        /// Device segments TCP over IPv4 (TSO): the driver may send frames of up to 64 KiB
        /// with `gso_type` TCPV4 (5.1.6.2). Requires CSUM.
        const HOST_TSO4 = 1 << 11;
        /// Device has a MAC address in its config space.
        const MAC = 1 << 5;
        /// Driver can merge receive buffers (we post full-size buffers and do not need it).
        const MRG_RXBUF = 1 << 15;
        /// Config `status` field (link up) is available.
        const STATUS = 1 << 16;
        /// Control virtqueue is available.
        const CTRL_VQ = 1 << 17;
        /// Multiple queue pairs, selected with `VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET`.
        const MQ = 1 << 22;
        /// `used_event` / `avail_event` notification suppression (2.7.10).
        const EVENT_IDX = 1 << 29;
        /// Modern (non-legacy) device (6.1).
        const VERSION_1 = 1 << 32;
        /// Device reports the RSS hash of each received frame in the header.
        const HASH_REPORT = 1 << 57;
        /// Device steers by a driver-programmed Toeplitz key and indirection table.
        const RSS = 1 << 60;
    }
}

/// What the driver asks for beyond the mandatory set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeatureWish {
    /// Negotiate GUEST_CSUM: the device may deliver frames whose checksum is only partial
    /// (`NEEDS_CSUM`) or already checked (`DATA_VALID`).
    pub rx_checksum: bool,
    /// Negotiate CSUM: the device completes transmitted checksums the driver asks it to.
    pub tx_checksum: bool,
    /// Negotiate HOST_TSO4 when offered (with CSUM only: 5.1.3.1).
    pub tso: bool,
    /// Negotiate RSS (and HASH_REPORT) when offered. Off forces the device-steering fallback.
    pub rss: bool,
    /// Negotiate MQ when offered. Off forces the single-queue fallback.
    pub multi_queue: bool,
}

impl Default for FeatureWish {
    fn default() -> Self {
        Self {
            rx_checksum: true,
            tx_checksum: true,
            tso: true,
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
pub fn negotiate(offered: Features, wish: FeatureWish) -> Features {
    let mut want = Features::VERSION_1
        | Features::MAC
        | Features::STATUS
        | Features::CTRL_VQ
        | Features::EVENT_IDX;
    if wish.multi_queue {
        want |= Features::MQ;
        if wish.rss {
            want |= Features::RSS | Features::HASH_REPORT;
        }
    }
    if wish.rx_checksum {
        want |= Features::GUEST_CSUM;
    }
    if wish.tx_checksum {
        want |= Features::CSUM;
        if wish.tso {
            want |= Features::HOST_TSO4;
        }
    }
    let mut f = offered & want;
    if !f.contains(Features::CTRL_VQ) {
        f -= Features::MQ | Features::RSS | Features::HASH_REPORT;
    }
    if !f.contains(Features::MQ) {
        // One queue pair: RSS has nothing to steer; software steering takes over.
        f -= Features::RSS;
    }
    if !f.contains(Features::RSS) {
        f -= Features::HASH_REPORT;
    }
    if !f.contains(Features::CSUM) {
        f -= Features::HOST_TSO4;
    }
    f
}

/// Length of `virtio_net_hdr` (5.1.6): 12 bytes with VERSION_1 (`num_buffers` always present),
/// 20 with HASH_REPORT (`hash_value`, `hash_report`, padding).
pub fn header_len(features: Features) -> usize {
    if features.contains(Features::HASH_REPORT) {
        20
    } else {
        12
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_everything_useful_and_nothing_else() {
        let offered = Features::from_bits_retain(u64::MAX);
        let f = negotiate(offered, FeatureWish::default());
        for b in [
            Features::VERSION_1,
            Features::MAC,
            Features::STATUS,
            Features::CTRL_VQ,
            Features::MQ,
            Features::RSS,
            Features::HASH_REPORT,
            Features::EVENT_IDX,
            Features::CSUM,
            Features::GUEST_CSUM,
            Features::HOST_TSO4,
        ] {
            assert!(f.contains(b), "{b:?}");
        }
        assert!(!f.contains(Features::MRG_RXBUF));
        assert_eq!(f.bits() & (1 << 34), 0, "packed ring must not be taken");
        assert_eq!(header_len(f), 20);
    }

    #[test]
    fn dependencies_and_wishes() {
        let no_ctrl = negotiate(
            Features::from_bits_retain(!Features::CTRL_VQ.bits()),
            FeatureWish::default(),
        );
        assert!(!no_ctrl.intersects(Features::MQ | Features::RSS | Features::HASH_REPORT));
        let only_hash = negotiate(
            Features::VERSION_1 | Features::CTRL_VQ | Features::MQ | Features::HASH_REPORT,
            FeatureWish::default(),
        );
        assert!(!only_hash.intersects(Features::HASH_REPORT));
        assert_eq!(header_len(only_hash), 12);
        let no_rss = negotiate(
            Features::from_bits_retain(u64::MAX),
            FeatureWish {
                rss: false,
                ..FeatureWish::default()
            },
        );
        assert!(!no_rss.intersects(Features::RSS | Features::HASH_REPORT));
        assert!(no_rss.contains(Features::MQ));
        let plain = negotiate(
            Features::from_bits_retain(u64::MAX),
            FeatureWish {
                rx_checksum: false,
                tx_checksum: false,
                tso: true,
                multi_queue: false,
                rss: true,
            },
        );
        assert!(!plain.intersects(
            Features::CSUM
                | Features::GUEST_CSUM
                | Features::HOST_TSO4
                | Features::MQ
                | Features::RSS
        ));
        // TSO needs the device's checksum offload (5.1.3.1).
        let tso_alone = negotiate(
            Features::VERSION_1 | Features::HOST_TSO4 | Features::GUEST_CSUM,
            FeatureWish::default(),
        );
        assert!(!tso_alone.contains(Features::HOST_TSO4));
        let no_tso = negotiate(
            Features::from_bits_retain(u64::MAX),
            FeatureWish {
                tso: false,
                ..FeatureWish::default()
            },
        );
        assert!(no_tso.contains(Features::CSUM) && !no_tso.contains(Features::HOST_TSO4));
        // Transmit offloads without receive checksum validation (what corenet runs with).
        let tx_only = negotiate(
            Features::from_bits_retain(u64::MAX),
            FeatureWish {
                rx_checksum: false,
                ..FeatureWish::default()
            },
        );
        assert!(tx_only.contains(Features::CSUM | Features::HOST_TSO4));
        assert!(!tx_only.contains(Features::GUEST_CSUM));
    }
}
