//! Several per-core stacks and a peer host, wired through the simulated RSS NIC.

extern crate std;

use std::vec::Vec;

use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpCidr, Ipv4Address};

use super::*;
use crate::mesh;
use crate::sim::{PeerDevice, SimNic, SimRxQueue, SimTxQueue};

pub(crate) const OUR_IP: [u8; 4] = [10, 0, 0, 2];
pub(crate) const PEER_IP: [u8; 4] = [10, 0, 0, 1];

/// The peer host: a plain smoltcp interface on the other end of the wire.
pub(crate) struct Peer {
    pub iface: Interface,
    pub dev: PeerDevice,
    pub sockets: SocketSet<'static>,
}

impl Peer {
    pub fn new(nic: &SimNic) -> Self {
        let mut dev = nic.peer_device();
        let mut cfg = Config::new(HardwareAddress::Ethernet(EthernetAddress([
            2, 0, 0, 0, 0, 1,
        ])));
        cfg.random_seed = 0xfeed;
        let mut iface = Interface::new(cfg, &mut dev, Instant::from_millis(0));
        iface.update_ip_addrs(|a| {
            let _ = a.push(IpCidr::new(Ipv4Address::new(10, 0, 0, 1).into(), 24));
        });
        Self {
            iface,
            dev,
            sockets: SocketSet::new(Vec::new()),
        }
    }

    pub fn socket(buf: usize) -> tcp::Socket<'static> {
        tcp::Socket::new(
            tcp::SocketBuffer::new(std::vec![0; buf]),
            tcp::SocketBuffer::new(std::vec![0; buf]),
        )
    }

    pub fn connect(&mut self, local_port: u16, remote_port: u16) -> SocketHandle {
        let mut s = Self::socket(4096);
        let [a, b, c, d] = OUR_IP;
        s.connect(
            self.iface.context(),
            (Ipv4Address::new(a, b, c, d), remote_port),
            local_port,
        )
        .unwrap();
        self.sockets.add(s)
    }

    pub fn poll(&mut self, now_us: u64) {
        self.iface.poll(
            Instant::from_micros(now_us as i64),
            &mut self.dev,
            &mut self.sockets,
        );
    }
}

pub(crate) type Core = CoreStack<SimRxQueue, SimTxQueue>;

pub(crate) fn cores(nic: &SimNic, rss: &RssConfig, mesh: bool) -> Vec<Core> {
    cores_with(nic, rss, mesh, |_| {})
}

pub(crate) fn cores_with(
    nic: &SimNic,
    rss: &RssConfig,
    mesh: bool,
    tweak: impl Fn(&mut StackConfig),
) -> Vec<Core> {
    let n = rss.queues as usize;
    let mut ports: Vec<Option<mesh::MeshPort>> = if mesh {
        mesh::mesh(n).into_iter().map(Some).collect()
    } else {
        (0..n).map(|_| None).collect()
    };
    (0..n)
        .map(|q| {
            let (rx, tx) = nic.queue_pair(q as u16);
            let mut cfg = StackConfig::new([2, 0, 0, 0, 0, 2], OUR_IP, 24, 1000 + q as u64);
            cfg.tcp_buffer = 4096;
            cfg.bucket_bits = 6;
            tweak(&mut cfg);
            CoreStack::new(cfg, rss, rx, tx, ports[q].take(), 0).unwrap()
        })
        .collect()
}

/// Advances everything by `steps` ticks of 1 ms.
pub(crate) fn run(cores: &mut [Core], peer: &mut Peer, now: &mut u64, steps: usize) {
    for _ in 0..steps {
        *now += 1000;
        peer.poll(*now);
        for c in cores.iter_mut() {
            c.poll(*now);
        }
    }
}

#[test]
fn passive_opens_land_on_the_core_the_hash_names() {
    let rss = RssConfig::new(4).unwrap();
    let nic = SimNic::new(rss.clone(), 4096);
    let mut cores = cores(&nic, &rss, true);
    let mut peer = Peer::new(&nic);
    for c in &mut cores {
        c.listen(80).unwrap();
    }
    let n = 48;
    let mut handles = Vec::new();
    for i in 0..n {
        handles.push(peer.connect(20_000 + i * 7, 80));
    }
    let mut now = 0;
    run(&mut cores, &mut peer, &mut now, 50);
    let mut seen = std::collections::HashSet::new();
    for (q, c) in cores.iter_mut().enumerate() {
        assert!(c.counters().accepted.get() > 0, "core {q} got no SYN");
        while let Ok(conn) = c.accept(80) {
            let (addr, port) = c.remote(conn).unwrap();
            assert_eq!(addr, PEER_IP);
            assert_eq!(rss.queue_ipv4_l4(PEER_IP, OUR_IP, port, 80) as usize, q);
            assert!(seen.insert(port));
            assert_eq!(c.send(conn, &port.to_be_bytes()), Ok(2));
        }
    }
    assert_eq!(seen.len(), n as usize);
    run(&mut cores, &mut peer, &mut now, 20);
    for h in handles {
        let s = peer.sockets.get_mut::<tcp::Socket>(h);
        let mut b = [0u8; 2];
        assert_eq!(s.recv_slice(&mut b), Ok(2));
        assert_eq!(u16::from_be_bytes(b), s.local_endpoint().unwrap().port);
    }
    let accepted: u64 = cores.iter().map(|c| c.counters().accepted.get()).sum();
    assert_eq!(accepted, n as u64);
    assert!(cores.iter().all(|c| c.counters().drop_no_socket.get() == 0));
    assert!(
        cores
            .iter()
            .all(|c| c.counters().retransmissions.get() == 0)
    );
}

#[test]
fn active_opens_from_every_core_get_their_replies_home() {
    let rss = RssConfig::new(4).unwrap();
    let nic = SimNic::new(rss.clone(), 4096);
    let mut cores = cores(&nic, &rss, true);
    let mut peer = Peer::new(&nic);
    let per_core = 12;
    for _ in 0..per_core * cores.len() {
        let mut s = Peer::socket(4096);
        s.listen(7).unwrap();
        peer.sockets.add(s);
    }
    let mut conns = Vec::new();
    for (q, c) in cores.iter_mut().enumerate() {
        for _ in 0..per_core {
            let conn = c.connect((PEER_IP, 7)).unwrap();
            let port = c.local_port(conn).unwrap();
            assert_eq!(rss.queue_ipv4_l4(PEER_IP, OUR_IP, 7, port) as usize, q);
            conns.push((q, conn));
        }
    }
    let mut now = 0;
    // Neighbor resolution from every core rides on core 0 forwarding the ARP reply.
    run(&mut cores, &mut peer, &mut now, 50);
    for &(q, conn) in &conns {
        assert_eq!(
            cores[q].state(conn),
            Some(ConnState::Established),
            "core {q}"
        );
    }
    assert!(cores.iter().all(|c| c.counters().drop_no_socket.get() == 0));
    assert!(
        cores[1..]
            .iter()
            .all(|c| c.counters().frames_from_peers.get() > 0)
    );
}

#[test]
fn without_the_arp_mesh_other_cores_cannot_resolve() {
    let rss = RssConfig::new(2).unwrap();
    let nic = SimNic::new(rss.clone(), 4096);
    let mut cores = cores(&nic, &rss, false);
    let mut peer = Peer::new(&nic);
    let mut s = Peer::socket(4096);
    s.listen(7).unwrap();
    peer.sockets.add(s);
    let conn = cores[1].connect((PEER_IP, 7)).unwrap();
    let mut now = 0;
    run(&mut cores, &mut peer, &mut now, 50);
    assert_eq!(cores[1].state(conn), Some(ConnState::Connecting));
}
