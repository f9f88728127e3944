//! The kernel command line: whitespace-separated `key=value` words and bare flags.
//!
//! corenet's own keys are validated by the kernel (kernel/src/config.rs); appliances read
//! theirs with [`Cmdline::get`]. Values cannot contain spaces; a repeated key's last value wins,
//! as on Linux.

/// A borrowed view of a command line.
#[derive(Debug, Clone, Copy)]
pub struct Cmdline<'a>(pub &'a str);

impl<'a> Cmdline<'a> {
    /// All words as `(key, value)`; a bare flag has value `None`.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, Option<&'a str>)> + 'a {
        self.0
            .split_ascii_whitespace()
            .map(|w| match w.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (w, None),
            })
    }

    /// The last value given for `key` (`Some("")` for `key=`), `None` if absent or a bare flag.
    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.iter()
            .filter(|(k, _)| *k == key)
            .filter_map(|(_, v)| v)
            .last()
    }

    /// Whether `key` appears, as a flag or with a value.
    pub fn has(&self, key: &str) -> bool {
        self.iter().any(|(k, _)| k == key)
    }

    /// Every value of a key that may repeat (e.g. `virtio_mmio.device=`), in order.
    pub fn all(&self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.iter()
            .filter(move |(k, _)| *k == key)
            .filter_map(|(_, v)| v)
    }
}

/// Parses a size with an optional K/M/G suffix (binary units), e.g. `64M`.
pub fn parse_size(s: &str) -> Option<u64> {
    let (num, mul) = match s.as_bytes().last()? {
        b'k' | b'K' => (&s[..s.len() - 1], 1u64 << 10),
        b'm' | b'M' => (&s[..s.len() - 1], 1 << 20),
        b'g' | b'G' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<u64>().ok()?.checked_mul(mul)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_flags_and_repeats() {
        let c = Cmdline(
            "log=debug  quiet heap=8M log=info virtio_mmio.device=4K@0x1000:5 virtio_mmio.device=4K@0x2000:6",
        );
        assert_eq!(c.get("log"), Some("info"));
        assert!(c.has("quiet"));
        assert_eq!(c.get("quiet"), None);
        assert_eq!(c.get("missing"), None);
        assert_eq!(c.all("virtio_mmio.device").count(), 2);
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("8M"), Some(8 << 20));
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("1g"), Some(1 << 30));
        assert_eq!(parse_size("x"), None);
        assert_eq!(parse_size(""), None);
        assert_eq!(parse_size("99999999999999999999G"), None);
    }
}
