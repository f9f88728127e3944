//! Neighbors across cores: ARP frames fan out from the core that got them over SPSC rings.
//!
//! RSS cannot hash ARP, so the NIC puts it on one queue (queue 0 on the 82599 and
//! virtio-net), yet every core needs the gateway's and peers' MAC addresses. Rather than a
//! shared neighbor table (a writable cache line shared by all cores, and smoltcp keeps its
//! cache inside each `Interface` anyway), the receiving core copies each ARP frame to every
//! other core over a bounded single-producer single-consumer ring (`heapless::spsc`); each
//! core feeds those copies to its own `Interface`, which learns the neighbor exactly as if
//! the frame had arrived on its own queue (its replies to such copies are discarded). ARP is
//! rare, so the rings are small; when one is full the copy is dropped and counted, and the
//! target core falls back to resolving by itself.

use alloc::boxed::Box;
use alloc::vec::Vec;

use heapless::spsc::{Consumer, Producer, Queue};

use crate::device::InjectedFrame;

/// Frames each ring holds.
pub const RING: usize = 16;

/// One core's ends of the mesh: a producer to every other core and a consumer from each.
pub struct ArpPort {
    core: usize,
    to: Vec<Option<Producer<'static, InjectedFrame>>>,
    from: Vec<Consumer<'static, InjectedFrame>>,
}

/// Builds the rings between `cores` cores; element `i` goes to core `i`.
///
/// The rings live for the rest of the program (leaked once at start-up), which is what lets
/// each end move to its core on its own.
pub fn mesh(cores: usize) -> Vec<ArpPort> {
    let mut ports: Vec<ArpPort> = (0..cores)
        .map(|core| ArpPort {
            core,
            to: (0..cores).map(|_| None).collect(),
            from: Vec::new(),
        })
        .collect();
    for src in 0..cores {
        for dst in 0..cores {
            if src == dst {
                continue;
            }
            let q: &'static mut Queue<InjectedFrame, RING> = Box::leak(Box::new(Queue::new()));
            let (p, c) = q.split();
            ports[src].to[dst] = Some(p);
            ports[dst].from.push(c);
        }
    }
    ports
}

impl ArpPort {
    /// This port's core.
    pub fn core(&self) -> usize {
        self.core
    }

    /// Copies an ARP frame to every other core; returns how many copies were dropped
    /// (ring full or frame too long).
    pub fn broadcast(&mut self, frame: &[u8]) -> u64 {
        let mut dropped = 0;
        for p in self.to.iter_mut().flatten() {
            let mut f = InjectedFrame::new();
            if f.extend_from_slice(frame).is_err() || p.enqueue(f).is_err() {
                dropped += 1;
            }
        }
        dropped
    }

    /// The next frame another core passed here.
    pub fn receive(&mut self) -> Option<InjectedFrame> {
        self.from.iter_mut().find_map(|c| c.dequeue())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_other_core_gets_a_copy_and_full_rings_count() {
        let mut m = mesh(3);
        assert_eq!(m[1].broadcast(&[1, 2, 3]), 0);
        assert!(m[1].receive().is_none());
        assert_eq!(m[0].receive().as_deref(), Some(&[1u8, 2, 3][..]));
        assert_eq!(m[2].receive().as_deref(), Some(&[1u8, 2, 3][..]));
        assert!(m[2].receive().is_none());
        for _ in 0..RING {
            m[0].broadcast(&[0]);
        }
        assert_eq!(m[0].broadcast(&[0]), 2);
        assert_eq!(m[0].broadcast(&[0u8; 65]), 2);
    }
}
