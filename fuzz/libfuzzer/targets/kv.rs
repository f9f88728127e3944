//! libFuzzer entry point of corenet-fuzz's `kv` harness.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| corenet_fuzz::kv::run(data));
