//! libFuzzer entry point; the property lives in `kmsd_fuzz::sigv4_authorization`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kmsd_fuzz::sigv4_authorization::run(data));
