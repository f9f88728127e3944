//! IPv6 over several per-core stacks (filled in below).
