//! DHCP offers and acknowledgements whose router or server is unusable never reach smoltcp's
//! client.
//!
//! smoltcp's DHCP client takes the first OFFER it sees. A rogue (or broken) server offering a
//! router that is not a unicast address on the leased subnet would, once accepted, leave us
//! with no usable lease (`poll_dhcp` refuses it: smoltcp's neighbor cache would panic on such
//! a gateway). Dropping its OFFER and ACK before the client sees them lets the client go on
//! waiting for a good server's offer, as if the rogue had never answered.
//!
//! The same goes for a reply whose IP source cannot be a server (0.0.0.0, which smoltcp lets
//! through for DHCP's sake, and other non-unicast addresses): the client keeps that source as
//! the server's address and unicasts its renewal REQUEST there, and smoltcp asserts that a
//! destination is never unspecified, so a lease from 0.0.0.0 would panic at renewal.

use smoltcp::wire::{
    DhcpMessageType, DhcpPacket, DhcpRepr, EthernetFrame, IpAddress, Ipv4Packet, UdpPacket,
};

use crate::config::{GatewayError, check_gateway_v4};
use crate::counters::NetCounters;

/// Why a DHCP reply is unusable.
enum Unusable {
    /// Its router (what it offered, and why not).
    Router([u8; 4], GatewayError),
    /// Its IP source, the server's address for the client.
    Server([u8; 4]),
}

/// Why a DHCP OFFER or ACK is unusable, if it is.
fn unusable(frame: &[u8]) -> Option<Unusable> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
    let udp = UdpPacket::new_checked(ip.payload()).ok()?;
    let pkt = DhcpPacket::new_checked(udp.payload()).ok()?;
    let repr = DhcpRepr::parse(&pkt).ok()?;
    if !matches!(
        repr.message_type,
        DhcpMessageType::Offer | DhcpMessageType::Ack
    ) {
        return None;
    }
    // "This network", loopback, multicast, reserved and broadcast: never a server.
    let server = ip.src_addr().octets();
    if matches!(server[0], 0 | 127 | 224..=255) {
        return Some(Unusable::Server(server));
    }
    let router = repr.router?.octets();
    // Without a valid mask smoltcp refuses the lease itself; prefix 0 then checks only that
    // the router is unicast.
    let prefix = repr
        .subnet_mask
        .and_then(|m| IpAddress::Ipv4(m).prefix_len())
        .unwrap_or(0);
    check_gateway_v4(repr.your_ip.octets(), prefix, router)
        .err()
        .map(|e| Unusable::Router(router, e))
}

/// For the DHCP core with its client running: true when `frame` (UDP to port 68) is an OFFER
/// or ACK with an unusable router or server, to be dropped (counted; logged sparsely, so that
/// a flood of such frames cannot flood the console).
pub(super) fn refuse_dhcp_reply(counters: &NetCounters, frame: &[u8]) -> bool {
    let (r, e) = match unusable(frame) {
        None => return false,
        Some(Unusable::Router(r, e)) => (r, e),
        Some(Unusable::Server(s)) => {
            counters.dhcp_bad_server.inc();
            let n = counters.dhcp_bad_server.get();
            if n.is_power_of_two() {
                log::error!(
                    "net: DHCP offer ignored: it comes from {}.{}.{}.{}, which cannot be a server ({n} so far)",
                    s[0],
                    s[1],
                    s[2],
                    s[3]
                );
            }
            return true;
        }
    };
    counters.dhcp_bad_router.inc();
    let n = counters.dhcp_bad_router.get();
    if n.is_power_of_two() {
        log::error!(
            "net: DHCP offer ignored: router {}.{}.{}.{} is not a unicast address on the leased subnet ({e:?}; {n} so far)",
            r[0],
            r[1],
            r[2],
            r[3]
        );
    }
    true
}
