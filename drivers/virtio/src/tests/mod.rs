//! Host tests of the whole driver against the fake device.

extern crate std;

mod big_rings;
mod datapath;
mod device;
mod hostile;
mod tso;

use crate::fake::{DeviceSpec, FakeDevice, FakeDma, FakeNotify, FakeTransport};
use crate::{NetConfig, VirtioNet, VirtioPair};
use corenet_nic::RssConfig;
use std::vec::Vec;

/// A device brought up with `cores` queue pairs wanted.
pub(crate) struct Rig {
    pub net: VirtioNet<FakeTransport>,
    pub pairs: Vec<VirtioPair>,
    pub dev: FakeDevice,
    pub bells: FakeNotify,
    // Last: rings and buffers live in it.
    pub _dma: FakeDma,
}

pub(crate) fn rig(spec: DeviceSpec, cores: usize) -> Rig {
    let mut cfg = NetConfig::new(RssConfig::new(cores).unwrap());
    cfg.spins = 1000;
    rig_with(spec, &cfg).unwrap()
}

pub(crate) fn rig_with(spec: DeviceSpec, cfg: &NetConfig) -> Result<Rig, crate::InitError> {
    let (t, dev) = FakeTransport::new_pair(spec);
    let mut dma = FakeDma::default();
    let bells = FakeNotify::default();
    let (net, pairs) = VirtioNet::new(t, bells, &mut dma, cfg)?;
    Ok(Rig {
        net,
        pairs: pairs.into_iter().collect(),
        dev,
        bells,
        _dma: dma,
    })
}

/// A virtio-net header as the device writes it: `len` bytes (12 or 20), flags, and a hash
/// report when 20.
pub(crate) fn rx_hdr(len: usize, flags: u8, hash: Option<u32>) -> Vec<u8> {
    let mut h = std::vec![0u8; len];
    h[0] = flags;
    h[10] = 1; // num_buffers
    if let (20, Some(v)) = (len, hash) {
        h[12..16].copy_from_slice(&v.to_le_bytes());
        h[16] = 2; // VIRTIO_NET_HASH_REPORT_TCPv4
    }
    h
}

/// The seeded PRNG of the randomized tests: the shared test kit's.
pub(crate) use corenet_net::testkit::Rng;
