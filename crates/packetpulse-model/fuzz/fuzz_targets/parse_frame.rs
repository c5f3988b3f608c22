//! Any bytes as a WebSocket frame: parsing must not panic, and every event it accepts must survive publication
//! and re-reading unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use packetpulse_model::{PublishedEvent, parse_frame};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(events) = parse_frame(text) else { return };
    for event in events {
        let Ok(wire) = event.result else { continue };
        let published = wire.publish(chrono::Utc::now());
        let reread = PublishedEvent::from_json(published.to_json().as_bytes()).expect("published JSON re-reads");
        assert_eq!(reread, published);
    }
});
