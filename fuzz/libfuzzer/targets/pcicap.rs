//! libFuzzer entry point of corenet-fuzz's `pcicap` harness.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| corenet_fuzz::pcicap::run(data));
