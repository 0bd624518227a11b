#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| codeless_fuzz::harness::run("engine", data));
