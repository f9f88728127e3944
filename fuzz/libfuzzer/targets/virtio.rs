//! libFuzzer entry point of corenet-fuzz's `virtio` harness.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| corenet_fuzz::virtio::run(data));
