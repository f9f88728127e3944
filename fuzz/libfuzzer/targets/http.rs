//! libFuzzer entry point of corenet-fuzz's `http` harness.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| corenet_fuzz::http::run(data));
