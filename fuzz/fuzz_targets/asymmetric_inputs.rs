//! libFuzzer entry point; the property lives in `kmsd_fuzz::asymmetric_inputs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kmsd_fuzz::asymmetric_inputs::run(data));
