//! libFuzzer entry point; the property lives in `kmsd_fuzz::awsjson_body`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kmsd_fuzz::awsjson_body::run(data));
