//! DHCP offers and acknowledgements whose router is unusable never reach smoltcp's client.
//!
//! smoltcp's DHCP client takes the first OFFER it sees. A rogue (or broken) server offering a
//! router that is not a unicast address on the leased subnet would, once accepted, leave us
//! with no usable lease (`poll_dhcp` refuses it: smoltcp's neighbor cache would panic on such
//! a gateway). Dropping its OFFER and ACK before the client sees them lets the client go on
//! waiting for a good server's offer, as if the rogue had never answered.

use smoltcp::wire::{
    DhcpMessageType, DhcpPacket, DhcpRepr, EthernetFrame, IpAddress, Ipv4Packet, UdpPacket,
};

use crate::config::{GatewayError, check_gateway_v4};
use crate::counters::NetCounters;

/// Why a DHCP reply with a router is unusable, with what it offered: (router, error).
fn bad_router(frame: &[u8]) -> Option<([u8; 4], GatewayError)> {
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
    let router = repr.router?.octets();
    // Without a valid mask smoltcp refuses the lease itself; prefix 0 then checks only that
    // the router is unicast.
    let prefix = repr
        .subnet_mask
        .and_then(|m| IpAddress::Ipv4(m).prefix_len())
        .unwrap_or(0);
    check_gateway_v4(repr.your_ip.octets(), prefix, router)
        .err()
        .map(|e| (router, e))
}

/// For the DHCP core with its client running: true when `frame` (UDP to port 68) is an OFFER
/// or ACK with an unusable router, to be dropped (counted; logged sparsely, so that a flood
/// of such frames cannot flood the console).
pub(super) fn refuse_dhcp_reply(counters: &NetCounters, frame: &[u8]) -> bool {
    let Some((r, e)) = bad_router(frame) else {
        return false;
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
