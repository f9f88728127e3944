//! libFuzzer entry point of corenet-fuzz's `frames` harness.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| corenet_fuzz::frames::run(data));
