//! libFuzzer entry point of corenet-fuzz's `cmdline` harness.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| corenet_fuzz::cmdline::run(data));
