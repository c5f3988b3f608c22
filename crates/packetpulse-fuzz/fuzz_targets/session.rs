//! libFuzzer target: a whole session, authentication then frames and replies (see the crate README).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| packetpulse_fuzz::session(data));
