//! Messages between cores over bounded SPSC rings: ARP/NDP frames, DHCP frames, configuration.
//!
//! RSS cannot hash ARP, so the NIC puts it on one queue (queue 0 on the 82599 and
//! virtio-net), yet every core needs the gateway's and peers' MAC addresses. Rather than a
//! shared neighbor table (a writable cache line shared by all cores, and smoltcp keeps its
//! cache inside each `Interface` anyway), the receiving core copies each ARP frame to every
//! other core; each core feeds the copies to its own `Interface`, which learns the neighbor
//! exactly as if the frame had arrived on its own queue (its replies to such copies are
//! discarded). IPv6 Neighbor Discovery (ICMPv6 133-137) is shared the same way: RSS hashes
//! it on the addresses, so a neighbor's advertisement reaches one core only. The same rings carry DHCP replies, which RSS steers to any core, to the core
//! running the DHCP client, and the configuration it obtains back to every core.
//!
//! Each ordered pair of cores has its own `heapless::spsc` ring, so every ring has exactly
//! one producer and one consumer and no lock. Traffic is rare (ARP, DHCP), so rings are
//! small; a full ring drops the message and the sender counts it.
//!
//! Frames may be lost that way (ARP is retried, TCP retransmits), but a configuration must
//! not be: [`MeshPort::publish_config`] remembers each core whose ring was full, and
//! [`MeshPort::retry_config`] (called on every poll) sends those cores the *latest*
//! configuration until it fits. Only the latest matters, so a core that missed several
//! updates gets just the last one.

use alloc::boxed::Box;
use alloc::vec::Vec;

use heapless::spsc::{Consumer, Producer, Queue};

use crate::config::Ipv4Config;

/// Messages each ring holds (ARP and DHCP frames, and bursts of segments forwarded to the
/// core that owns their connection when the NIC does not steer by our table).
pub const RING: usize = 128;

/// Largest frame passed between cores (an Ethernet frame without FCS).
pub const MAX_FRAME: usize = 1514;

/// What one core tells another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Msg {
    /// A received frame (ARP, or a DHCP reply) to process as if it had arrived locally.
    Frame(Vec<u8>),
    /// The IPv4 configuration changed (`None`: the lease was lost).
    Config(Option<Ipv4Config>),
}

/// One core's ends of the mesh: a producer to every other core and a consumer from each.
pub struct MeshPort {
    core: usize,
    to: Vec<Option<Producer<'static, Msg>>>,
    from: Vec<Consumer<'static, Msg>>,
    /// The configuration last published, for cores that have not received it yet.
    config: Option<Ipv4Config>,
    /// Cores whose ring was full when [`config`](Self::config) was published.
    config_pending: Vec<usize>,
    /// Wakes a core a message was posted to.
    wake: crate::WakeFn,
}

/// Builds the rings between `cores` cores; element `i` goes to core `i`.
///
/// The rings live for the rest of the program (leaked once at start-up), which is what lets
/// each end move to its core on its own.
pub fn mesh(cores: usize) -> Vec<MeshPort> {
    let mut ports: Vec<MeshPort> = (0..cores)
        .map(|core| MeshPort {
            core,
            to: (0..cores).map(|_| None).collect(),
            from: Vec::new(),
            config: None,
            config_pending: Vec::new(),
            wake: crate::no_wake,
        })
        .collect();
    for src in 0..cores {
        for dst in 0..cores {
            if src == dst {
                continue;
            }
            let q: &'static mut Queue<Msg, RING> = Box::leak(Box::new(Queue::new()));
            let (p, c) = q.split();
            ports[src].to[dst] = Some(p);
            ports[dst].from.push(c);
        }
    }
    ports
}

impl MeshPort {
    /// This port's core.
    pub fn core(&self) -> usize {
        self.core
    }

    /// Sets how a core that was posted to is woken (after the post is visible).
    pub fn set_wake(&mut self, wake: crate::WakeFn) {
        self.wake = wake;
    }

    /// Sends a copy of `msg` to every other core; returns how many copies were dropped.
    pub fn broadcast(&mut self, msg: &Msg) -> u64 {
        let mut dropped = 0;
        for (dst, p) in self.to.iter_mut().enumerate() {
            let Some(p) = p else { continue };
            if !fits(msg) || p.enqueue(msg.clone()).is_err() {
                dropped += 1;
            } else {
                (self.wake)(dst);
            }
        }
        dropped
    }

    /// Sends `msg` to core `to`; false when it was dropped (ring full, no such core, or a
    /// frame over [`MAX_FRAME`]).
    pub fn send(&mut self, to: usize, msg: Msg) -> bool {
        let sent = match self.to.get_mut(to).and_then(Option::as_mut) {
            Some(p) if fits(&msg) => p.enqueue(msg).is_ok(),
            _ => false,
        };
        if sent {
            (self.wake)(to);
        }
        sent
    }

    /// Sends configuration `c` to every other core, remembering the cores whose ring was
    /// full so that [`retry_config`](Self::retry_config) delivers it later. Returns how many
    /// copies could not be sent now.
    pub fn publish_config(&mut self, c: Option<Ipv4Config>) -> u64 {
        self.config = c;
        self.config_pending.clear();
        for (dst, p) in self.to.iter_mut().enumerate() {
            if let Some(p) = p {
                if p.enqueue(Msg::Config(c)).is_err() {
                    self.config_pending.push(dst);
                } else {
                    (self.wake)(dst);
                }
            }
        }
        self.config_pending.len() as u64
    }

    /// Sends the latest published configuration to the cores that missed it, as far as
    /// their rings have room now. Returns how many were delivered by this call.
    pub fn retry_config(&mut self) -> u64 {
        if self.config_pending.is_empty() {
            return 0;
        }
        let (to, c, wake) = (&mut self.to, self.config, self.wake);
        let before = self.config_pending.len();
        self.config_pending.retain(|&dst| {
            let sent = to
                .get_mut(dst)
                .and_then(Option::as_mut)
                .is_some_and(|p| p.enqueue(Msg::Config(c)).is_ok());
            if sent {
                wake(dst);
            }
            !sent
        });
        (before - self.config_pending.len()) as u64
    }

    /// Cores still waiting for the latest published configuration.
    pub fn config_pending(&self) -> usize {
        self.config_pending.len()
    }

    /// The next message another core sent here.
    pub fn receive(&mut self) -> Option<Msg> {
        self.from.iter_mut().find_map(|c| c.dequeue())
    }
}

fn fits(msg: &Msg) -> bool {
    !matches!(msg, Msg::Frame(f) if f.len() > MAX_FRAME)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn broadcast_send_and_full_rings() {
        let mut m = mesh(3);
        let f = Msg::Frame(vec![1, 2, 3]);
        assert_eq!(m[1].broadcast(&f), 0);
        assert!(m[1].receive().is_none());
        assert_eq!(m[0].receive(), Some(f.clone()));
        assert_eq!(m[2].receive(), Some(f.clone()));
        assert!(m[2].receive().is_none());
        assert!(m[2].send(0, Msg::Config(None)));
        assert_eq!(m[0].receive(), Some(Msg::Config(None)));
        assert!(!m[2].send(2, Msg::Config(None)), "no ring to itself");
        assert!(!m[2].send(9, Msg::Config(None)));
        for _ in 0..RING {
            m[0].broadcast(&f);
        }
        assert_eq!(m[0].broadcast(&f), 2);
        assert!(!m[0].send(1, Msg::Config(None)));
        assert_eq!(m[1].broadcast(&Msg::Frame(vec![0; MAX_FRAME + 1])), 2);
    }

    #[test]
    fn a_config_meeting_a_full_ring_is_delivered_later_and_only_the_latest() {
        let mut m = mesh(3);
        let f = Msg::Frame(vec![1]);
        // Core 1's ring from core 0 is full; core 2's is not.
        let mut queued = 0;
        while m[0].send(1, f.clone()) {
            queued += 1;
        }
        assert!(queued >= RING - 1);
        let a = Some(Ipv4Config::new([10, 0, 0, 2], 24, None));
        let b = Some(Ipv4Config::new([10, 0, 0, 3], 24, Some([10, 0, 0, 1])));
        assert_eq!(m[0].publish_config(a), 1);
        assert_eq!(m[0].config_pending(), 1);
        assert_eq!(m[2].receive(), Some(Msg::Config(a)));
        assert_eq!(m[0].retry_config(), 0, "still full");
        // A newer configuration while core 1 still waits: core 1 only ever gets the newer.
        assert_eq!(m[0].publish_config(b), 1);
        assert_eq!(m[2].receive(), Some(Msg::Config(b)));
        for _ in 0..queued {
            assert_eq!(m[1].receive(), Some(f.clone()));
        }
        assert_eq!(m[0].retry_config(), 1);
        assert_eq!(m[0].config_pending(), 0);
        assert_eq!(m[1].receive(), Some(Msg::Config(b)));
        assert_eq!(m[1].receive(), None);
        assert_eq!(m[0].retry_config(), 0);
    }
}
