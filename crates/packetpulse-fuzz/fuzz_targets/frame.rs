//! libFuzzer target: one data frame through Venus' parser and planner (see the crate README).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| packetpulse_fuzz::frame(data));
