//! `Display` and `core::error::Error` for the crate's public error enums.
//!
//! Kept in one place, apart from the types, so that the messages read consistently and the
//! stack's modules stay about behaviour. A wrapped error is part of the message (a `no_std`
//! log prints `Display` only), so `source()` is left at its default.

use core::fmt;

use crate::config::CmdlineError;
use crate::gateway::GatewayError;
use crate::ports::{AllocError, PortConfigError, ReleaseError};
use crate::soft::SoftQueuesError;
use crate::stack::{
    AcceptError, AnnounceError, CloseError, ConnectError, DhcpError, ListenError, RecvError,
    SendError, StackError, UdpBindError, UdpCloseError, UdpRecvError, UdpSendError,
};

/// `Display` from one message per variant, and the marker `Error` impl.
macro_rules! messages {
    ($ty:ty { $($pat:pat => $($msg:expr),+;)+ }) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match *self {
                    $($pat => write!(f, $($msg),+),)+
                }
            }
        }

        impl core::error::Error for $ty {}
    };
}

messages!(PortConfigError {
    Self::BadRange(lo, hi) => "bad ephemeral port range {}..={} (empty, or includes port 0)", lo, hi;
    Self::QueueNotInTable(q) => "queue {} is not in the RSS indirection table", q;
});

messages!(AllocError {
    Self::Exhausted => "no free local port steers to this core";
});

messages!(ReleaseError {
    Self::NotAllocated(p) => "port {} was not allocated", p;
});

messages!(UdpBindError {
    Self::BadPort => "cannot bind UDP port 0";
    Self::InUse => "UDP port already bound on this core";
});

messages!(UdpSendError {
    Self::BadHandle => "not a bound UDP socket of this core";
    Self::Unaddressable => "UDP destination has port 0 or an unspecified address";
    Self::WouldBlock => "UDP send queue full";
});

messages!(UdpRecvError {
    Self::BadHandle => "not a bound UDP socket of this core";
    Self::WouldBlock => "no UDP datagram received";
    Self::Truncated => "UDP datagram larger than the buffer (dropped)";
});

messages!(UdpCloseError {
    Self::BadHandle => "not a bound UDP socket of this core";
});

messages!(ListenError {
    Self::BadPort => "cannot listen on TCP port 0";
    Self::AlreadyListening => "this core already listens on the port";
    Self::NotListening => "this core does not listen on the port";
});

messages!(AcceptError {
    Self::NotListening => "this core does not listen on the port";
    Self::WouldBlock => "no established connection waiting";
});

messages!(ConnectError {
    Self::Unaddressable => "TCP destination has port 0, an unspecified address, or no local address of its family";
    Self::TooManyConnections => "this core is at its connection limit";
    Self::PortsExhausted => "no free local port steers to this core";
    Self::NoMemory => "no heap block for the connection's TCP buffers";
});

messages!(RecvError {
    Self::BadHandle => "not a live connection of this core";
    Self::WouldBlock => "nothing to read yet";
    Self::Finished => "the peer closed and everything was read";
    Self::Closed => "connection closed or reset";
});

messages!(SendError {
    Self::BadHandle => "not a live connection of this core";
    Self::WouldBlock => "send buffer full (or handshake not done)";
    Self::Closed => "connection can no longer send (closed or reset)";
});

messages!(CloseError {
    Self::BadHandle => "not a live connection of this core";
});

messages!(StackError {
    Self::Ports(e) => "ephemeral ports: {}", e;
    Self::BadConfig => "bad stack configuration (bucket bits, prefix length, IPv6 or MAC address)";
    Self::Ipv6Disabled => "an IPv6 address is configured but the build has no `ipv6` feature";
});

messages!(DhcpError {
    Self::NotDhcpCore => "this core is not the DHCP core";
    Self::AlreadyStarted => "the DHCP client already runs";
});

messages!(AnnounceError {
    Self::TxFull => "no TX buffer free";
});

messages!(SoftQueuesError {
    Self::BadDepth(d) => "software queue depth {} is 0 or over {}", d, crate::soft::MAX_DEPTH;
    Self::BadTable(q) => "indirection table names queue {}, past the configured queues", q;
});

// These two have their own `Display` beside them (the boot error report prints it).
impl core::error::Error for CmdlineError {}
impl core::error::Error for GatewayError {}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::string::ToString;

    use super::*;

    #[test]
    fn messages_carry_their_values() {
        assert_eq!(
            StackError::Ports(PortConfigError::BadRange(9, 3)).to_string(),
            "ephemeral ports: bad ephemeral port range 9..=3 (empty, or includes port 0)"
        );
        assert_eq!(
            ReleaseError::NotAllocated(4242).to_string(),
            "port 4242 was not allocated"
        );
        let e: &dyn core::error::Error = &SendError::Closed;
        assert!(e.source().is_none());
    }
}
