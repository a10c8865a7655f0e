//! libFuzzer entry point; the property lives in `kmsd_fuzz::ciphertext_blob`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kmsd_fuzz::ciphertext_blob::run(data));
