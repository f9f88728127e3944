//! libFuzzer entry point of corenet-fuzz's `stack` harness.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| corenet_fuzz::stack::run(data));
