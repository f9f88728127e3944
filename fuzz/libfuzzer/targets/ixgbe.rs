//! libFuzzer entry point of corenet-fuzz's `ixgbe` harness.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| corenet_fuzz::ixgbe::run(data));
