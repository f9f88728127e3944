//! The peer host: a plain smoltcp interface with its sockets, on any smoltcp device.

use alloc::vec;
use alloc::vec::Vec;

use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::Device;
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr, IpEndpoint, Ipv4Address};

use super::{OUR_IP, PEER_IP, PEER_MAC};
use crate::sim::{PeerDevice, SimNic};

/// The seed of the peer's smoltcp (its ISNs and ephemeral ports) unless a test picks one.
const PEER_SEED: u64 = 0xfeed;

/// `ip` as smoltcp spells an IPv4 address.
pub fn ip4(ip: [u8; 4]) -> IpAddress {
    Ipv4Address::from(ip).into()
}

/// `ip` as smoltcp spells an IPv6 address.
#[cfg(feature = "ipv6")]
pub fn ip6(ip: [u8; 16]) -> IpAddress {
    smoltcp::wire::Ipv6Address::from(ip).into()
}

/// The other host: a plain smoltcp interface, its device and its sockets. On the simulated
/// NIC's wire ([`PeerDevice`]) unless built on another device with [`Peer::on`].
pub struct Peer<D: Device = PeerDevice> {
    /// The peer's interface (one /24 IPv4 address; more can be added).
    pub iface: Interface,
    /// Its end of the wire.
    pub dev: D,
    /// Its sockets.
    pub sockets: SocketSet<'static>,
}

impl Peer {
    /// The peer at [`PEER_MAC`]/[`PEER_IP`] on `nic`'s wire.
    pub fn new(nic: &SimNic) -> Self {
        Self::with_seed(nic, PEER_SEED)
    }

    /// As [`Peer::new`], with smoltcp seeded by `seed`.
    pub fn with_seed(nic: &SimNic, seed: u64) -> Self {
        Self::on(nic.peer_device(), PEER_MAC, PEER_IP, seed)
    }
}

impl<D: Device> Peer<D> {
    /// A host at `mac`/`ip` (a /24) on `dev`, smoltcp seeded by `seed`.
    pub fn on(mut dev: D, mac: [u8; 6], ip: [u8; 4], seed: u64) -> Self {
        let mut cfg = Config::new(HardwareAddress::Ethernet(EthernetAddress(mac)));
        cfg.random_seed = seed;
        let mut iface = Interface::new(cfg, &mut dev, Instant::ZERO);
        iface.update_ip_addrs(|a| {
            let _ = a.push(IpCidr::new(ip4(ip), 24));
        });
        Self {
            iface,
            dev,
            sockets: SocketSet::new(Vec::new()),
        }
    }

    /// Adds `ip` (a /64) next to the IPv4 address.
    #[cfg(feature = "ipv6")]
    pub fn with_ipv6(mut self, ip: [u8; 16]) -> Self {
        self.iface.update_ip_addrs(|a| {
            let _ = a.push(IpCidr::new(ip6(ip), 64));
        });
        self
    }

    /// A TCP socket with `buf` bytes each way, not yet added.
    pub fn socket(buf: usize) -> tcp::Socket<'static> {
        tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; buf]),
            tcp::SocketBuffer::new(vec![0; buf]),
        )
    }

    /// A connection from `local_port` to our `remote_port` at [`OUR_IP`], 4 KiB each way.
    pub fn connect(&mut self, local_port: u16, remote_port: u16) -> SocketHandle {
        self.open((ip4(OUR_IP), remote_port), local_port, 4096)
    }

    /// A connection from `local_port` to `to`, `buf` bytes each way.
    pub fn open(&mut self, to: impl Into<IpEndpoint>, local_port: u16, buf: usize) -> SocketHandle {
        let mut s = Self::socket(buf);
        s.connect(self.iface.context(), to, local_port)
            .expect("a fresh socket connects");
        self.sockets.add(s)
    }

    /// A socket listening on `port`, `buf` bytes each way (takes one connection).
    pub fn listen(&mut self, port: u16, buf: usize) -> SocketHandle {
        let mut s = Self::socket(buf);
        s.listen(port).expect("a fresh socket listens");
        self.sockets.add(s)
    }

    /// The TCP socket `h`.
    pub fn tcp(&mut self, h: SocketHandle) -> &mut tcp::Socket<'static> {
        self.sockets.get_mut::<tcp::Socket>(h)
    }

    /// One poll of the peer's interface at `now_us`.
    pub fn poll(&mut self, now_us: u64) {
        self.iface.poll(
            Instant::from_micros(now_us as i64),
            &mut self.dev,
            &mut self.sockets,
        );
    }
}
