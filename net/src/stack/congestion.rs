//! The congestion controller every TCP connection of a stack uses (`tcp_cc=`).

use smoltcp::socket::tcp::CongestionControl;

/// Congestion control for TCP connections: smoltcp's controllers, chosen per stack.
///
/// Reno is the default: on the simulated lossy links and the e2e faulty wire it moves data
/// as fast as Cubic (both are limited by the socket buffers there, not by the window
/// growth function), and it needs no floating point, which the guest target emulates in
/// software (docs/BENCHMARKS.md, "TCP loss recovery").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TcpCongestion {
    /// No congestion window: only the peer's receive window limits the sender. Fine on a
    /// private link; unfair to other flows and prone to self-inflicted loss elsewhere.
    None,
    /// NewReno (RFC 5681 slow start and congestion avoidance, halving on loss).
    #[default]
    Reno,
    /// CUBIC (RFC 9438), Linux's default; uses `f64` arithmetic per ACK.
    Cubic,
}

impl TcpCongestion {
    /// Parses a `tcp_cc=` value: `reno`, `cubic` or `none`.
    pub fn parse(v: &str) -> Option<Self> {
        match v {
            "reno" => Some(Self::Reno),
            "cubic" => Some(Self::Cubic),
            "none" => Some(Self::None),
            _ => None,
        }
    }

    /// The name `parse` accepts.
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Reno => "reno",
            Self::Cubic => "cubic",
        }
    }

    pub(super) fn smoltcp(self) -> CongestionControl {
        match self {
            Self::None => CongestionControl::None,
            Self::Reno => CongestionControl::Reno,
            Self::Cubic => CongestionControl::Cubic,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for cc in [
            TcpCongestion::None,
            TcpCongestion::Reno,
            TcpCongestion::Cubic,
        ] {
            assert_eq!(TcpCongestion::parse(cc.name()), Some(cc));
        }
        assert_eq!(TcpCongestion::parse("bbr"), None);
        assert_eq!(TcpCongestion::parse(""), None);
        assert_eq!(TcpCongestion::default(), TcpCongestion::Reno);
    }
}
