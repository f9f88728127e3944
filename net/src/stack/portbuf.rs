//! Per-listener TCP buffer sizes (`StackConfig::port_buffers`) within a per-core budget.
//!
//! smoltcp allocates a socket's buffers up front and fixes its window scale from the
//! receive buffer when the SYN is taken, so a connection's size is chosen then, by its
//! listening port. Only passive opens that take a SYN get it: SYN-cookie connections run
//! without window scaling and keep `tcp_buffer`.

use smoltcp::socket::tcp::Socket as TcpSocket;

use super::StackConfig;

/// The buffer size of connections on `port`, when it has its own and that is larger than
/// `tcp_buffer` (a smaller one would save nothing the budget tracks).
pub(super) fn port_buffer(cfg: &StackConfig, port: u16) -> Option<usize> {
    cfg.port_buffers
        .iter()
        .find(|&&(p, _)| p == port && p != 0)
        .map(|&(_, size)| size)
        .filter(|&size| size > cfg.tcp_buffer)
}

/// A fresh socket listening on `port` with buffers of `size` bytes each way, or `None` when
/// the heap has no block for them.
pub(super) fn listening_socket(
    cfg: &StackConfig,
    port: u16,
    size: usize,
) -> Option<TcpSocket<'static>> {
    let mut s = super::tcp::new_socket_sized(cfg, size)?;
    // Listeners never have port 0, the only port `listen` refuses.
    let _ = s.listen(port);
    Some(s)
}

/// Why a `tcpbuf_port=` value was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortBufferError {
    /// An entry is not `PORT:SIZE` with a port from 1 to 65535 and a size from 1K to 1M
    /// (bytes, or with a K or M suffix).
    Malformed,
    /// More than [`MAX_PORT_BUFFERS`](super::MAX_PORT_BUFFERS) entries.
    TooMany,
    /// A port named twice.
    Duplicate,
}

impl core::fmt::Display for PortBufferError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Malformed => f.write_str(
                "tcpbuf_port= takes PORT:SIZE[,PORT:SIZE...], a size from 1K to 1M (e.g. 7:256K)",
            ),
            Self::TooMany => write!(
                f,
                "tcpbuf_port= names at most {} ports",
                super::MAX_PORT_BUFFERS
            ),
            Self::Duplicate => f.write_str("tcpbuf_port= names a port twice"),
        }
    }
}

impl core::error::Error for PortBufferError {}

/// Parses `tcpbuf_port=`'s value, `PORT:SIZE[,PORT:SIZE...]` (e.g. `7:256K`), into
/// [`StackConfig::port_buffers`] form.
pub fn parse_port_buffers(
    v: &str,
) -> Result<[(u16, usize); super::MAX_PORT_BUFFERS], PortBufferError> {
    let mut out = [(0u16, 0usize); super::MAX_PORT_BUFFERS];
    for (i, entry) in v.split(',').enumerate() {
        let (port, size) = entry.split_once(':').ok_or(PortBufferError::Malformed)?;
        let port = port
            .parse::<u16>()
            .ok()
            .filter(|&p| p != 0)
            .ok_or(PortBufferError::Malformed)?;
        let size = size_of(size)
            .filter(|n| (1024..=1 << 20).contains(n))
            .ok_or(PortBufferError::Malformed)?;
        if out.iter().any(|&(p, _)| p == port) {
            return Err(PortBufferError::Duplicate);
        }
        *out.get_mut(i).ok_or(PortBufferError::TooMany)? = (port, size);
    }
    Ok(out)
}

/// Bytes, or kibibytes/mebibytes with a K or M suffix.
fn size_of(s: &str) -> Option<usize> {
    let (num, shift) = match s.as_bytes().last()? {
        b'k' | b'K' => (&s[..s.len() - 1], 10),
        b'm' | b'M' => (&s[..s.len() - 1], 20),
        _ => (s, 0),
    };
    num.parse::<usize>().ok()?.checked_mul(1 << shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_buffers_parse_and_refuse() {
        let p = parse_port_buffers("7:256K,80:64k,9000:1M,1:1024").unwrap();
        assert_eq!(
            p,
            [(7, 256 << 10), (80, 64 << 10), (9000, 1 << 20), (1, 1024)]
        );
        assert_eq!(parse_port_buffers("7:256K").unwrap()[1], (0, 0));
        for bad in [
            "", "7", "7:", ":4K", "0:4K", "65536:4K", "7:512", "7:2M", "7:4X", "7:-1", "7:4K,",
            "a:4K",
        ] {
            assert_eq!(
                parse_port_buffers(bad),
                Err(PortBufferError::Malformed),
                "{bad}"
            );
        }
        assert_eq!(
            parse_port_buffers("1:4K,2:4K,3:4K,4:4K,5:4K"),
            Err(PortBufferError::TooMany)
        );
        assert_eq!(
            parse_port_buffers("7:4K,7:8K"),
            Err(PortBufferError::Duplicate)
        );
    }
}
