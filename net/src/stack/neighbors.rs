//! Which ARP and NDP frames reach smoltcp and the other cores, and which neighbors stay.
//!
//! Every accepted neighbor frame is processed on every core (see [`crate::mesh`]), so the
//! receiving core filters first, with just the fixed-offset fields:
//!
//! - ARP is kept only when it asks for or answers about one of our IPv4 addresses and its
//!   sender is a unicast address of our subnet. That is all smoltcp learns from anyway (it
//!   ignores ARP aimed elsewhere), so broadcast chatter about other hosts costs one look on
//!   one core instead of a copy to every core and a parse on each.
//! - Neighbor Solicitations are kept when they ask for one of our addresses (smoltcp would
//!   otherwise learn every soliciting host of the link, whoever it asks for).
//! - Neighbor Advertisements are kept when sent to one of our unicast addresses (answers to
//!   our solicitations) or when they come from a neighbor this core already has cached (an
//!   update). An unsolicited advertisement from a stranger is dropped.
//! - Router Solicitations, Router Advertisements and Redirects are dropped: smoltcp does
//!   not use them here (no SLAAC; routers come from the configuration).
//!
//! Dropped frames are counted in `neighbor_ignored`. Whatever passes can still fill the
//! neighbor cache (hosts asking for our address are cached, as smoltcp does), so the cache
//! is larger than smoltcp's default (64 entries, `iface-neighbor-cache-count-64`) and the
//! default routers are protected from eviction (`Interface::set_protected_neighbors`, a
//! corenet patch of smoltcp): a flood of strangers can evict only each other.
//!
//! Not covered: a forged answer *about the router itself* (classic ARP spoofing) is taken
//! as smoltcp takes it; only static neighbor entries would stop that.

use corenet_nic::{RxQueue, TxQueue};
use smoltcp::iface::Interface;
use smoltcp::wire::{IpAddress, Ipv4Address};

use super::CoreStack;
use crate::config::{Ipv4Config, Ipv6Config, check_gateway_v4};

/// Our addresses, as the filter needs them.
pub(super) struct Ours {
    pub ipv4: Option<Ipv4Config>,
    pub link_local: Option<[u8; 16]>,
    pub ipv6: Option<Ipv6Config>,
}

impl Ours {
    #[cfg_attr(not(feature = "ipv6"), allow(dead_code, reason = "NDP needs ipv6"))]
    fn has_v6(&self, a: &[u8]) -> bool {
        self.link_local.is_some_and(|l| l == a) || self.ipv6.is_some_and(|c| c.ip == a)
    }
}

/// Whether an ARP or NDP `frame` should be processed (here and on the other cores).
pub(super) fn neighbor_wanted(frame: &[u8], ours: &Ours, iface: &Interface) -> bool {
    match frame.get(12..14) {
        Some([0x08, 0x06]) => arp_wanted(frame, ours),
        #[cfg(feature = "ipv6")]
        Some([0x86, 0xdd]) => ndp_wanted(frame, ours, iface),
        _ => {
            let _ = iface;
            false
        }
    }
}

fn arp_wanted(frame: &[u8], ours: &Ours) -> bool {
    // Ethernet/IPv4 ARP (RFC 826): htype 1, ptype 0x0800, hlen 6, plen 4, op 1 or 2.
    let Some(a) = frame.get(14..42) else {
        return false;
    };
    if a[..6] != [0, 1, 8, 0, 6, 4] || !matches!(a[6..8], [0, 1] | [0, 2]) {
        return false;
    }
    let Some(c) = ours.ipv4 else { return false };
    let sender = [a[14], a[15], a[16], a[17]];
    let target = [a[24], a[25], a[26], a[27]];
    // "A unicast address of our subnet other than ours" is exactly what makes a gateway.
    target == c.ip && check_gateway_v4(c.ip, c.prefix_len, sender).is_ok()
}

#[cfg(feature = "ipv6")]
fn ndp_wanted(frame: &[u8], ours: &Ours, iface: &Interface) -> bool {
    let (Some(ip), Some(icmp)) = (frame.get(14..54), frame.get(54..78)) else {
        return false;
    };
    // RFC 4861: NDP is sent with hop limit 255 (smoltcp drops anything else).
    if ip[7] != 255 {
        return false;
    }
    let src = &ip[8..24];
    let dst = &ip[24..40];
    let target = &icmp[8..24];
    match icmp[0] {
        135 => ours.has_v6(target),
        136 => {
            let mut s = [0u8; 16];
            s.copy_from_slice(src);
            let known = smoltcp::wire::Ipv6Address::from(s);
            ours.has_v6(dst) || iface.neighbor_cached(&known.into())
        }
        _ => false,
    }
}

impl<R: RxQueue, T: TxQueue> CoreStack<R, T> {
    /// Keeps the default routers in smoltcp's neighbor cache whatever strangers do.
    pub(super) fn protect_routers(&mut self) {
        let mut routers: heapless::Vec<IpAddress, 2> = heapless::Vec::new();
        if let Some(gw) = self.ipv4.and_then(|c| c.gateway) {
            let _ = routers.push(Ipv4Address::from(gw).into());
        }
        #[cfg(feature = "ipv6")]
        if let Some(gw) = self.ipv6.and_then(|c| c.gateway) {
            let _ = routers.push(smoltcp::wire::Ipv6Address::from(gw).into());
        }
        self.iface.set_protected_neighbors(&routers);
    }
}
