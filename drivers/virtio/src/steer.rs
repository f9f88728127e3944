//! Software steering for a single-queue device: the receiving core hashes each frame with the
//! same [`RssConfig`] the stack predicts with, and hands it to its core over a bounded SPSC ring.
//!
//! What travels on the rings is the caller's choice (`T`): a copied frame, or a zero-copy
//! handle whose buffer goes back to the receiving core on a return ring. A full ring drops the
//! item back to the caller (who releases the buffer) and counts it: never blocks.
#![forbid(unsafe_code)]

use corenet_nic::steering::frame_input;
use corenet_nic::{Counter, RssConfig};
use heapless::spsc::{Consumer, Producer, Queue};

/// The RSS hash a virtio/82599 device would compute for `frame` (IPv4; TCP/UDP with ports
/// unless fragmented; IPv6 likewise, TCP/UDP only directly after the fixed header, else the
/// addresses), or `None` for frames RSS does not classify (they go to queue 0). The frame is
/// parsed by [`corenet_nic::steering::frame_input`], shared with net's software steering.
pub fn frame_hash(cfg: &RssConfig, frame: &[u8]) -> Option<u32> {
    frame_input(frame).map(|input| corenet_nic::toeplitz(&cfg.key, input.bytes()))
}

/// The queue (= core) `frame` belongs to under `cfg`; unclassified frames go to queue 0.
pub fn target_queue(cfg: &RssConfig, frame: &[u8]) -> u16 {
    frame_hash(cfg, frame).map_or(0, |h| cfg.queue_for_hash(h))
}

/// Bounded SPSC rings from the receiving core to each of `CORES` cores, `DEPTH - 1` items each.
#[derive(Debug)]
pub struct Rings<T, const CORES: usize, const DEPTH: usize> {
    rings: [Queue<T, DEPTH>; CORES],
}

impl<T, const CORES: usize, const DEPTH: usize> Default for Rings<T, CORES, DEPTH> {
    fn default() -> Self {
        Self {
            rings: core::array::from_fn(|_| Queue::new()),
        }
    }
}

impl<T, const CORES: usize, const DEPTH: usize> Rings<T, CORES, DEPTH> {
    /// The receiving core's [`Spreader`] and one consumer per core (index = core).
    pub fn split(
        &mut self,
    ) -> (
        Spreader<'_, T, CORES>,
        heapless::Vec<Consumer<'_, T>, CORES>,
    ) {
        let mut producers = heapless::Vec::new();
        let mut consumers = heapless::Vec::new();
        for r in self.rings.iter_mut() {
            let (p, c) = r.split();
            let _ = producers.push(p);
            let _ = consumers.push(c);
        }
        (
            Spreader {
                producers,
                drops: Counter::new(),
            },
            consumers,
        )
    }
}

/// The receiving core's side: hands items to their core.
pub struct Spreader<'a, T, const CORES: usize> {
    producers: heapless::Vec<Producer<'a, T>, CORES>,
    /// Items refused because the target ring was full (or the target does not exist).
    pub drops: Counter,
}

impl<T, const CORES: usize> core::fmt::Debug for Spreader<'_, T, CORES> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Spreader")
            .field("cores", &self.producers.len())
            .field("drops", &self.drops.get())
            .finish()
    }
}

impl<T, const CORES: usize> Spreader<'_, T, CORES> {
    /// Queues `item` for core `target`; gives it back when that ring is full.
    pub fn send(&mut self, target: u16, item: T) -> Result<(), T> {
        let r = match self.producers.get_mut(usize::from(target)) {
            Some(p) => p.enqueue(item),
            None => Err(item),
        };
        if r.is_err() {
            self.drops.inc();
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ETHERTYPE_IPV4: u16 = 0x0800;
    const ETHERTYPE_IPV6: u16 = 0x86DD;
    const IPPROTO_TCP: u8 = 6;
    const IPPROTO_UDP: u8 = 17;

    fn udp_frame(src: [u8; 4], dst: [u8; 4], sp: u16, dp: u16) -> [u8; 42] {
        let mut f = [0u8; 42];
        f[12..14].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
        f[14] = 0x45;
        f[23] = IPPROTO_UDP;
        f[26..30].copy_from_slice(&src);
        f[30..34].copy_from_slice(&dst);
        f[34..36].copy_from_slice(&sp.to_be_bytes());
        f[36..38].copy_from_slice(&dp.to_be_bytes());
        f
    }

    #[test]
    fn hash_matches_the_stack_prediction() {
        let cfg = RssConfig::new(4).unwrap();
        // Microsoft vector: 66.9.149.187:2794 -> 161.142.100.80:1766 = 0x51ccc178.
        let f = udp_frame([66, 9, 149, 187], [161, 142, 100, 80], 2794, 1766);
        assert_eq!(frame_hash(&cfg, &f), Some(0x51cc_c178));
        assert_eq!(
            target_queue(&cfg, &f),
            cfg.queue_ipv4_l4([66, 9, 149, 187], [161, 142, 100, 80], 2794, 1766)
        );
        // A fragment hashes on addresses only.
        let mut frag = f;
        frag[20] = 0x20; // MF
        assert_eq!(frame_hash(&cfg, &frag), Some(0x323e_8fc2));
        // ARP, truncated and garbage frames are unclassified.
        let mut arp = f;
        arp[12..14].copy_from_slice(&0x0806u16.to_be_bytes());
        assert_eq!(frame_hash(&cfg, &arp), None);
        assert_eq!(frame_hash(&cfg, &f[..20]), None);
        assert_eq!(target_queue(&cfg, &[]), 0);
        // An IHL past the end of the frame leaves no ports: hashed by the addresses, as
        // every software steering does (corenet_nic::steering::frame_input); the stack then
        // drops the frame as malformed on whichever core it reaches.
        let mut bad_ihl = f;
        bad_ihl[14] = 0x4f;
        assert_eq!(frame_hash(&cfg, &bad_ihl[..40]), Some(0x323e_8fc2));
    }

    #[test]
    fn ipv6_hash_is_the_ipv6_toeplitz() {
        let cfg = RssConfig::new(4).unwrap();
        // Microsoft vector: 3ffe:2501:200:1fff::7 port 2794 -> 3ffe:2501:200:3::1 port 1766.
        let src = [
            0x3f, 0xfe, 0x25, 0x01, 0x02, 0x00, 0x1f, 0xff, 0, 0, 0, 0, 0, 0, 0, 7,
        ];
        let dst = [
            0x3f, 0xfe, 0x25, 0x01, 0x02, 0x00, 0, 3, 0, 0, 0, 0, 0, 0, 0, 1,
        ];
        let mut f = [0u8; 62];
        f[12..14].copy_from_slice(&ETHERTYPE_IPV6.to_be_bytes());
        f[14] = 0x60;
        f[20] = IPPROTO_TCP;
        f[22..38].copy_from_slice(&src);
        f[38..54].copy_from_slice(&dst);
        f[54..56].copy_from_slice(&2794u16.to_be_bytes());
        f[56..58].copy_from_slice(&1766u16.to_be_bytes());
        assert_eq!(frame_hash(&cfg, &f), Some(0x4020_7d3d));
        assert_eq!(target_queue(&cfg, &f), cfg.queue_for_hash(0x4020_7d3d));
        // ICMPv6 (and anything not TCP/UDP right after the header): addresses only.
        f[20] = 58;
        assert_eq!(frame_hash(&cfg, &f), Some(0x2cc1_8cd5));
        // Truncated before the end of the addresses: unclassified; before the ports: addresses.
        f[20] = IPPROTO_TCP;
        assert_eq!(frame_hash(&cfg, &f[..53]), None);
        assert_eq!(frame_hash(&cfg, &f[..56]), Some(0x2cc1_8cd5));
        let mut v4 = f;
        v4[14] = 0x45;
        assert_eq!(frame_hash(&cfg, &v4), None);
    }

    #[test]
    fn spreads_and_bounds() {
        let cfg = RssConfig::new(2).unwrap();
        let mut rings: Rings<u32, 2, 4> = Rings::default();
        let (mut s, mut consumers) = rings.split();
        let mut sent = [0usize; 2];
        for i in 0..6u16 {
            let f = udp_frame([10, 0, 0, 1], [10, 0, 0, 2], 1000 + i, 80);
            let q = target_queue(&cfg, &f);
            if s.send(q, u32::from(i)).is_ok() {
                sent[usize::from(q)] += 1;
            }
        }
        assert!(sent.iter().all(|&n| n <= 3), "capacity is DEPTH - 1");
        assert_eq!(sent[0] + sent[1] + s.drops.get() as usize, 6);
        let got: usize = consumers
            .iter_mut()
            .map(|c| core::iter::from_fn(|| c.dequeue()).count())
            .sum();
        assert_eq!(got, sent[0] + sent[1]);
        assert_eq!(s.send(7, 1), Err(1));
    }
}
