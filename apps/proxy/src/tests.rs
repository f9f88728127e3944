//! Host tests of the pipe over simulated NICs.
