//! virtio-mmio discovery from the kernel command line: `virtio_mmio.device=<size>@<addr>:<irq>`.
//!
//! The format is Linux's (`Documentation/admin-guide/kernel-parameters.txt`, also what
//! Firecracker and QEMU microvm pass): `<size>` takes an optional K/M/G suffix, `<addr>` is
//! hex with `0x` (or decimal), `<irq>` decimal, and an optional `:<id>` platform-device id
//! follows, which we accept and ignore. Example: `virtio_mmio.device=4K@0xd0000000:5`.
#![forbid(unsafe_code)]

/// One virtio-mmio device named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MmioDevice {
    /// Physical base address of the register block.
    pub base: u64,
    /// Size of the register block in bytes.
    pub size: u64,
    /// Interrupt line (an I/O APIC input: routed to the queue owner when cores may halt).
    pub irq: u32,
}

/// Errors from [`parse_device`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MmioParseError {
    /// No `@` between size and address.
    MissingAt,
    /// No `:` before the irq.
    MissingIrq,
    /// The size is not a number, has an unknown suffix, overflows, or is zero.
    BadSize,
    /// The address is not a number, or `base + size` overflows.
    BadAddress,
    /// The irq is not a decimal number.
    BadIrq,
}

const KEY: &str = "virtio_mmio.device=";

/// Parses one value `<size>@<addr>:<irq>[:<id>]` (the part after `virtio_mmio.device=`).
pub fn parse_device(v: &str) -> Result<MmioDevice, MmioParseError> {
    let (size, rest) = v.split_once('@').ok_or(MmioParseError::MissingAt)?;
    let (addr, rest) = rest.split_once(':').ok_or(MmioParseError::MissingIrq)?;
    let irq = rest.split(':').next().unwrap_or("");
    let size = parse_size(size).ok_or(MmioParseError::BadSize)?;
    let base = parse_num(addr).ok_or(MmioParseError::BadAddress)?;
    base.checked_add(size).ok_or(MmioParseError::BadAddress)?;
    let irq = irq.parse::<u32>().map_err(|_| MmioParseError::BadIrq)?;
    Ok(MmioDevice { base, size, irq })
}

/// Every `virtio_mmio.device=` on `cmdline`, in order, each parsed or with its error.
pub fn devices(cmdline: &str) -> impl Iterator<Item = Result<MmioDevice, MmioParseError>> + '_ {
    cmdline
        .split_ascii_whitespace()
        .filter_map(|w| w.strip_prefix(KEY))
        .map(parse_device)
}

fn parse_num(s: &str) -> Option<u64> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

fn parse_size(s: &str) -> Option<u64> {
    let (num, shift) = match s.as_bytes().last()? {
        b'k' | b'K' => (&s[..s.len() - 1], 10),
        b'm' | b'M' => (&s[..s.len() - 1], 20),
        b'g' | b'G' => (&s[..s.len() - 1], 30),
        _ => (s, 0),
    };
    let n = parse_num(num)?;
    let v = n.checked_mul(1u64 << shift)?;
    (v != 0).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn firecracker_style() {
        assert_eq!(
            parse_device("4K@0xd0000000:5"),
            Ok(MmioDevice {
                base: 0xd000_0000,
                size: 4096,
                irq: 5
            })
        );
        assert_eq!(
            parse_device("0x200@0xfeb00e00:12:3").map(|d| (d.size, d.irq)),
            Ok((0x200, 12))
        );
        assert_eq!(parse_device("1M@4096:0").map(|d| d.size), Ok(1 << 20));
    }

    #[test]
    fn errors() {
        assert_eq!(
            parse_device("4K0xd0000000:5"),
            Err(MmioParseError::MissingAt)
        );
        assert_eq!(
            parse_device("4K@0xd0000000"),
            Err(MmioParseError::MissingIrq)
        );
        assert_eq!(parse_device("4Q@0x1000:5"), Err(MmioParseError::BadSize));
        assert_eq!(parse_device("0@0x1000:5"), Err(MmioParseError::BadSize));
        assert_eq!(
            parse_device("99999999999G@0:5"),
            Err(MmioParseError::BadSize)
        );
        assert_eq!(parse_device("4K@0xzz:5"), Err(MmioParseError::BadAddress));
        assert_eq!(
            parse_device("4K@0xffffffffffffffff:5"),
            Err(MmioParseError::BadAddress)
        );
        assert_eq!(parse_device("4K@0x1000:-1"), Err(MmioParseError::BadIrq));
        assert_eq!(parse_device("4K@0x1000:"), Err(MmioParseError::BadIrq));
    }

    #[test]
    fn whole_command_line() {
        let cl = "console=ttyS0 virtio_mmio.device=4K@0xd0000000:5 reboot=k \
                  virtio_mmio.device=4K@0xd0001000:6 virtio_mmio.device=junk";
        let v: heapless::Vec<_, 4> = devices(cl).collect();
        assert_eq!(v.len(), 3);
        assert_eq!(v[1].map(|d| d.base), Ok(0xd000_1000));
        assert!(v[2].is_err());
    }
}
