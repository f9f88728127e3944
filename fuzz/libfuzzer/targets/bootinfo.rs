//! libFuzzer entry point of corenet-fuzz's `bootinfo` harness.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| corenet_fuzz::bootinfo::run(data));
