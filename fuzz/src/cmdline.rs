//! The kernel command line: corenet's own keys, the network keys (`ip=`, `gw=`, `dns=`,
//! `ip6=`, `gw6=`), virtio-mmio devices, sizes, and the proxy appliance's keys. No panic, and what parses is in range.
//!
//! Input: the command line (UTF-8; other bytes are dropped as the boot code refuses them).

use corenet_boot::Cmdline;
use corenet_boot::cmdline::parse_size;
use corenet_net::config::{IpSetting, addr6, parse_cmdline, parse_ipv6_cmdline};

/// The harness.
pub fn run(data: &[u8]) {
    let Ok(s) = core::str::from_utf8(data) else {
        return;
    };
    let c = Cmdline(s);
    for (k, v) in c.iter() {
        assert!(!k.is_empty() || v.is_some());
        assert!(c.has(k));
    }
    let _ = c.get("ip");
    let _ = c.all("virtio_mmio.device").count();

    if let Ok(k) = corenet_kernel::config::Config::parse(&c) {
        assert_eq!(k.dma % (2 << 20), 0, "dma not in 2 MiB units");
        assert!(k.heap.is_none_or(|h| h % (2 << 20) == 0 && h >= 2 << 20));
        assert!(k.dma >= 2 << 20 && k.max_cores != Some(0));
    }
    match parse_cmdline(s) {
        Ok(IpSetting::Static(n)) => assert!(n.prefix_len <= 32),
        Ok(IpSetting::Dhcp) | Err(_) => {}
    }
    if let Ok(Some(v6)) = parse_ipv6_cmdline(s) {
        assert!(v6.prefix_len <= 128);
    }
    let _ = addr6(s);
    for d in corenet_virtio::cmdline::devices(s).flatten() {
        assert!(d.base.checked_add(d.size).is_some());
    }
    let _ = corenet_virtio::cmdline::parse_device(s);
    let _ = parse_size(s);
    // tcp2 (issue 12 item 3): `tcpbuf_port=`'s value.
    if let Ok(p) = corenet_net::stack::parse_port_buffers(s) {
        assert!(p.iter().all(|&(port, size)| (port == 0) == (size == 0)));
        assert!(
            p.iter()
                .all(|&(_, size)| size == 0 || (1024..=1 << 20).contains(&size))
        );
    }
    if let Ok(p) = corenet_proxy::config::parse(s) {
        assert!(p.listen != 0 && !p.backends.is_empty());
        assert!(p.backends.iter().all(|&(_, port)| port != 0));
    }
}
