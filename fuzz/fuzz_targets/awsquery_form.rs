//! libFuzzer entry point; the property lives in `kmsd_fuzz::awsquery_form`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kmsd_fuzz::awsquery_form::run(data));
