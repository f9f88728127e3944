//! Host tests of the driver against the register-level model ([`crate::model`]).

mod data;
mod hostile;
mod igb;
mod init;
mod model;
mod msix;
mod net_rig;
mod net_stack;
mod offload;
mod rss;
mod tcp;

use std::vec::Vec;

use corenet_nic::RssConfig;

use crate::model::{Model82599, ModelParams};
use crate::{Config, InitError, Ixgbe, IxgbePair};

/// The model's default MAC address, which the driver's unicast filter accepts.
pub(crate) const MAC: [u8; 6] = [0x00, 0x1B, 0x21, 0x0A, 0x0B, 0x0C];

pub(crate) type Dev = Ixgbe<Model82599>;
pub(crate) type Pairs = Vec<IxgbePair<Model82599>>;

/// The seeded PRNG of randomized tests: the kit's.
pub(crate) use corenet_net::testkit::Rng;

/// Brings up a model with `queues` queue pairs of `ring` descriptors.
pub(crate) fn try_bring_up(
    params: ModelParams,
    queues: u16,
    ring: u16,
) -> (Model82599, Result<(Dev, Pairs), InitError>) {
    let model = Model82599::new(params);
    let mut cfg = Config::new(RssConfig::new(queues as usize).unwrap());
    cfg.rx_ring_size = ring;
    cfg.tx_ring_size = ring;
    let r = Ixgbe::init(
        model.clone(),
        &cfg,
        &mut model.allocator(),
        &mut model.delay(),
    );
    (model, r)
}

pub(crate) fn bring_up(queues: u16, ring: u16) -> (Model82599, Dev, Pairs) {
    let (model, r) = try_bring_up(ModelParams::default(), queues, ring);
    let (dev, pairs) = r.expect("init succeeds against the model");
    (model, dev, pairs)
}

/// An Ethernet/IPv4/UDP (or TCP with `tcp`) frame of flow `(src, dst, sport, dport)` to `dst_mac` whose payload bytes are
/// `seed, seed+1, ...`; `payload` bytes long. IP checksum left 0: nothing here checks it.
pub(crate) fn ipv4_frame(
    dst_mac: [u8; 6],
    (src, dst, sport, dport): ([u8; 4], [u8; 4], u16, u16),
    tcp: bool,
    payload: usize,
    seed: u8,
) -> Vec<u8> {
    let l4_len = if tcp { 20 } else { 8 };
    let mut f = Vec::with_capacity(14 + 20 + l4_len + payload);
    f.extend_from_slice(&dst_mac);
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 1]);
    f.extend_from_slice(&[0x08, 0x00]);
    let total = (20 + l4_len + payload) as u16;
    f.extend_from_slice(&[0x45, 0, (total >> 8) as u8, total as u8, 0, 0, 0x40, 0, 64]);
    f.push(if tcp { 6 } else { 17 });
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    if tcp {
        f.extend_from_slice(&[0; 8]);
        f.extend_from_slice(&[0x50, 0x10, 0xFF, 0xFF, 0, 0, 0, 0]);
    } else {
        f.extend_from_slice(&((8 + payload) as u16).to_be_bytes());
        f.extend_from_slice(&[0, 0]);
    }
    f.extend((0..payload).map(|i| seed.wrapping_add(i as u8)));
    f
}

/// A UDP frame to our MAC, distinguished by `seed`.
pub(crate) fn test_frame(seed: u8, payload: usize) -> Vec<u8> {
    ipv4_frame(
        MAC,
        ([10, 0, 0, 2], [10, 0, 0, 1], 4000 + seed as u16, 80),
        false,
        payload,
        seed,
    )
}
