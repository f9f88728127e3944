//! Prometheus text exposition format (version 0.0.4): `# HELP`, `# TYPE`, samples.

use alloc::vec::Vec;

use crate::response::push_fmt;

/// Writes metric families into a buffer.
#[derive(Debug, Default)]
pub struct Metrics {
    out: Vec<u8>,
}

/// Counter or gauge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Monotonic.
    Counter,
    /// Goes up and down.
    Gauge,
}

impl Metrics {
    /// An empty page.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts a family.
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) {
        let k = match kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        };
        push_fmt(
            &mut self.out,
            format_args!("# HELP {name} {help}\n# TYPE {name} {k}\n"),
        );
    }

    /// One sample with labels (`[("core", "0")]`).
    pub fn sample(&mut self, name: &str, labels: &[(&str, &dyn core::fmt::Display)], value: u64) {
        self.out.extend_from_slice(name.as_bytes());
        if !labels.is_empty() {
            self.out.push(b'{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(b',');
                }
                push_fmt(&mut self.out, format_args!("{k}=\"{v}\""));
            }
            self.out.push(b'}');
        }
        push_fmt(&mut self.out, format_args!(" {value}\n"));
    }

    /// The page.
    pub fn finish(self) -> Vec<u8> {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_format() {
        let mut m = Metrics::new();
        m.family(
            "corenet_rx_packets_total",
            Kind::Counter,
            "Frames received.",
        );
        m.sample(
            "corenet_rx_packets_total",
            &[("core", &0), ("queue", &1)],
            42,
        );
        m.sample("corenet_up", &[], 1);
        let s = std::string::String::from_utf8(m.finish()).unwrap();
        assert_eq!(
            s,
            "# HELP corenet_rx_packets_total Frames received.\n# TYPE corenet_rx_packets_total counter\n\
             corenet_rx_packets_total{core=\"0\",queue=\"1\"} 42\ncorenet_up 1\n"
        );
    }
}
