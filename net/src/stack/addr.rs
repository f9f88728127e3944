//! Addresses: static or DHCP configuration applied on every core, gratuitous ARP, and (with
//! the `ipv6` feature) the link-local and static IPv6 addresses with unsolicited Neighbor
//! Advertisements.

use corenet_nic::{RxQueue, TxQueue};
use smoltcp::wire::{EthernetAddress, IpCidr, Ipv4Address};

use super::{AnnounceError, CoreStack, DhcpError};
use crate::config::{Ipv4Config, check_gateway_v4};

/// After a lease with a bad router, how long the DHCP client rests before it looks for
/// another server: a rogue server that answers at once cannot make it spin.
const DHCP_REJECT_BACKOFF_MS: i64 = 10_000;

impl<R: RxQueue, T: TxQueue> CoreStack<R, T> {
    /// Installs (or with `None` removes) this core's address and default route.
    /// IPv6 addresses (link-local, static global) are kept as they are.
    ///
    /// A gateway that is not a unicast address on the subnet is dropped (logged, counted):
    /// smoltcp's neighbor cache asserts unicast addresses, so whatever the source (command
    /// line, DHCP, another core), such a gateway must never become a route.
    pub(super) fn apply_ipv4(&mut self, c: Option<Ipv4Config>) {
        let c = c.filter(|c| {
            // smoltcp panics on a broadcast or multicast interface address.
            let a = Ipv4Address::from(c.ip);
            let ok = !a.is_broadcast() && !a.is_multicast() && c.prefix_len <= 32;
            if !ok {
                log::error!("net: address {:?}/{} refused", c.ip, c.prefix_len);
            }
            ok
        });
        let c = c.map(|mut c| {
            if let Some(gw) = c.gateway
                && let Err(e) = check_gateway_v4(c.ip, c.prefix_len, gw)
            {
                log::error!(
                    "net: gateway {}.{}.{}.{} refused ({e:?}); no default route",
                    gw[0],
                    gw[1],
                    gw[2],
                    gw[3]
                );
                self.counters.bad_gateway.inc();
                c.gateway = None;
            }
            c
        });
        self.ipv4 = c;
        self.cfg.ip = c.map_or([0; 4], |c| c.ip);
        #[cfg(feature = "ipv6")]
        let v6 = (self.link_local, self.ipv6);
        self.iface.update_ip_addrs(|addrs| {
            addrs.clear();
            if let Some(c) = c {
                let [a, b, cc, d] = c.ip;
                let _ = addrs.push(IpCidr::new(
                    Ipv4Address::new(a, b, cc, d).into(),
                    c.prefix_len,
                ));
            }
            #[cfg(feature = "ipv6")]
            {
                use smoltcp::wire::Ipv6Address;
                if let Some(ll) = v6.0 {
                    let _ = addrs.push(IpCidr::new(Ipv6Address::from(ll).into(), 64));
                }
                if let Some(g) = v6.1 {
                    let _ = addrs.push(IpCidr::new(Ipv6Address::from(g.ip).into(), g.prefix_len));
                }
            }
        });
        #[cfg(feature = "ipv6")]
        {
            self.iface.routes_mut().remove_default_ipv6_route();
            if let Some(gw) = self.ipv6.and_then(|c| c.gateway) {
                let _ = self
                    .iface
                    .routes_mut()
                    .add_default_ipv6_route(smoltcp::wire::Ipv6Address::from(gw));
            }
        }
        self.iface.routes_mut().remove_default_ipv4_route();
        if let Some([a, b, cc, d]) = c.and_then(|c| c.gateway) {
            let _ = self
                .iface
                .routes_mut()
                .add_default_ipv4_route(Ipv4Address::new(a, b, cc, d));
        }
        self.protect_routers();
    }

    /// Our IPv6 address for talking to `remote`: link-local for a link-local peer, else the
    /// global address (link-local when there is none). smoltcp is given the same choice
    /// explicitly, so RSS port solving and the wire agree.
    pub(super) fn ipv6_source(&self, remote: [u8; 16]) -> Option<[u8; 16]> {
        let link_local_peer = remote[0] == 0xfe && remote[1] & 0xc0 == 0x80;
        match self.ipv6 {
            Some(g) if !link_local_peer => Some(g.ip),
            _ => self.link_local,
        }
    }

    /// Starts smoltcp's DHCPv4 client on this core, which must be `dhcp_core`. RSS sends the
    /// server's replies to any core; the others forward them here, and the configuration
    /// obtained is applied here and sent to every other core.
    pub fn dhcp_start(&mut self) -> Result<(), DhcpError> {
        if self.queue() != self.cfg.dhcp_core {
            return Err(DhcpError::NotDhcpCore);
        }
        if self.dhcp.is_some() {
            return Err(DhcpError::AlreadyStarted);
        }
        let socket = smoltcp::socket::dhcpv4::Socket::new();
        self.dhcp = Some(self.dgram.add(socket));
        Ok(())
    }

    /// After egress on the DHCP core: adopt and share a new or lost lease, and resend the
    /// configuration to cores that missed it.
    ///
    /// A lease whose router is not a unicast address on the leased subnet is ignored
    /// (logged, counted): the configuration in use stays, and after
    /// [`DHCP_REJECT_BACKOFF_MS`] the client starts over to find another server.
    pub(super) fn poll_dhcp(&mut self) {
        self.resend_config();
        let Some(h) = self.dhcp else { return };
        let now_ms = self.now.total_millis();
        let socket = self.dgram.get_mut::<smoltcp::socket::dhcpv4::Socket>(h);
        if self.dhcp_restart_ms.is_some_and(|t| now_ms >= t) {
            self.dhcp_restart_ms = None;
            // The rejected lease is the client's state: forget it and discover again. The
            // "deconfigured" this reports is about the rejected lease, not ours.
            socket.reset();
            self.dhcp_rejected = true;
        }
        let event = socket.poll();
        let c = match event {
            None => return,
            Some(smoltcp::socket::dhcpv4::Event::Configured(c))
                if c.router.is_some_and(|r| {
                    let a = c.address;
                    check_gateway_v4(a.address().octets(), a.prefix_len(), r.octets()).is_err()
                }) =>
            {
                let (a, r) = (c.address, c.router);
                log::error!(
                    "net: DHCP lease {a} from {} ignored: router {r:?} is not a unicast address on the subnet",
                    c.server.address
                );
                self.counters.dhcp_bad_router.inc();
                self.dhcp_restart_ms = Some(now_ms + DHCP_REJECT_BACKOFF_MS);
                return;
            }
            Some(smoltcp::socket::dhcpv4::Event::Deconfigured) if self.dhcp_rejected => {
                self.dhcp_rejected = false;
                return;
            }
            Some(smoltcp::socket::dhcpv4::Event::Configured(c)) => {
                let mut dns = [None; crate::config::MAX_DNS];
                for (slot, s) in dns.iter_mut().zip(c.dns_servers.iter()) {
                    *slot = Some(s.octets());
                }
                Some(Ipv4Config {
                    ip: c.address.address().octets(),
                    prefix_len: c.address.prefix_len(),
                    gateway: c.router.map(|r| r.octets()),
                    dns,
                })
            }
            Some(smoltcp::socket::dhcpv4::Event::Deconfigured) => None,
        };
        if c == self.ipv4 {
            return; // e.g. the "deconfigured" a fresh client reports first
        }
        self.dhcp_rejected = false;
        self.apply_ipv4(c);
        self.counters.config_updates.inc();
        self.share_config();
    }

    /// Sends the configuration in use to every other core (kept for those whose ring is full).
    fn share_config(&mut self) {
        if let Some(m) = self.mesh.as_mut() {
            let missed = m.publish_config(self.ipv4);
            self.counters.drop_mesh_full.add(missed);
        }
    }

    /// Delivers the configuration to cores that missed it (see [`crate::mesh`]).
    fn resend_config(&mut self) {
        if let Some(m) = self.mesh.as_mut() {
            self.counters.config_resent.add(m.retry_config());
        }
    }

    /// Sends a gratuitous ARP (a request for our own address) so neighbors and switches
    /// learn our MAC at start-up, and with IPv6 an unsolicited Neighbor Advertisement (RFC
    /// 4861 7.2.6, override flag, to all-nodes) per IPv6 address. One core is enough: all
    /// cores share the MAC and addresses.
    pub fn announce(&mut self) -> Result<(), AnnounceError> {
        if self.ipv4.is_some() {
            self.announce_ipv4()?;
        }
        #[cfg(feature = "ipv6")]
        for a in [self.link_local, self.ipv6.map(|c| c.ip)]
            .into_iter()
            .flatten()
        {
            self.announce_ipv6(a)?;
        }
        Ok(())
    }

    #[cfg(feature = "ipv6")]
    fn announce_ipv6(&mut self, addr: [u8; 16]) -> Result<(), AnnounceError> {
        use smoltcp::phy::{ChecksumCapabilities, Device as _, TxToken as _};
        use smoltcp::wire::{
            EthernetFrame, EthernetProtocol, EthernetRepr, IPV6_LINK_LOCAL_ALL_NODES, Icmpv6Packet,
            Icmpv6Repr, IpProtocol, Ipv6Address, Ipv6Packet, Ipv6Repr, NdiscNeighborFlags,
            NdiscRepr, RawHardwareAddress,
        };
        let mac = EthernetAddress(self.cfg.mac);
        let src = Ipv6Address::from(addr);
        let na = Icmpv6Repr::Ndisc(NdiscRepr::NeighborAdvert {
            flags: NdiscNeighborFlags::OVERRIDE,
            target_addr: src,
            lladdr: Some(RawHardwareAddress::from(mac)),
        });
        let ip = Ipv6Repr {
            src_addr: src,
            dst_addr: IPV6_LINK_LOCAL_ALL_NODES,
            next_header: IpProtocol::Icmpv6,
            payload_len: na.buffer_len(),
            hop_limit: 255,
        };
        let eth = EthernetRepr {
            src_addr: mac,
            dst_addr: EthernetAddress([0x33, 0x33, 0, 0, 0, 1]),
            ethertype: EthernetProtocol::Ipv6,
        };
        let token = self.dev.transmit(self.now).ok_or(AnnounceError::TxFull)?;
        token.consume(
            eth.buffer_len() + ip.buffer_len() + na.buffer_len(),
            |buf| {
                let mut frame = EthernetFrame::new_unchecked(buf);
                eth.emit(&mut frame);
                let mut p = Ipv6Packet::new_unchecked(frame.payload_mut());
                ip.emit(&mut p);
                na.emit(
                    &src,
                    &IPV6_LINK_LOCAL_ALL_NODES,
                    &mut Icmpv6Packet::new_unchecked(p.payload_mut()),
                    &ChecksumCapabilities::default(),
                );
            },
        );
        self.dev.flush();
        Ok(())
    }

    fn announce_ipv4(&mut self) -> Result<(), AnnounceError> {
        use smoltcp::phy::{Device as _, TxToken as _};
        use smoltcp::wire::{
            ArpOperation, ArpPacket, ArpRepr, EthernetFrame, EthernetProtocol, EthernetRepr,
        };
        let mac = EthernetAddress(self.cfg.mac);
        let [a, b, c, d] = self.cfg.ip;
        let ip = Ipv4Address::new(a, b, c, d);
        let arp = ArpRepr::EthernetIpv4 {
            operation: ArpOperation::Request,
            source_hardware_addr: mac,
            source_protocol_addr: ip,
            target_hardware_addr: EthernetAddress([0; 6]),
            target_protocol_addr: ip,
        };
        let eth = EthernetRepr {
            src_addr: mac,
            dst_addr: EthernetAddress::BROADCAST,
            ethertype: EthernetProtocol::Arp,
        };
        let token = self.dev.transmit(self.now).ok_or(AnnounceError::TxFull)?;
        token.consume(eth.buffer_len() + arp.buffer_len(), |buf| {
            let mut frame = EthernetFrame::new_unchecked(buf);
            eth.emit(&mut frame);
            arp.emit(&mut ArpPacket::new_unchecked(frame.payload_mut()));
        });
        self.dev.flush();
        Ok(())
    }
}
