//! libFuzzer entry point; the property lives in `kmsd_fuzz::bootstrap_world`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kmsd_fuzz::bootstrap_world::run(data));
