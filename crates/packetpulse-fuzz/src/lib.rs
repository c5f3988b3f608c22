//! Fuzz harnesses for what Venus does with bytes from the network, without I/O: the frame parser and planner,
//! and a whole session (the authentication frame, then frames, each answered as Kafka's verdict would have it).
//! Each harness checks the promises Venus makes about hostile input, and panics when one breaks:
//!
//! - every frame gets a plan that accounts for each of its events (published, rejected, or the frame refused), and
//!   what is published reads back unchanged;
//! - what is kept of refused input is bounded (dead letters within the Kafka message limit), so memory is too;
//! - the reply serialises and counts what Kafka took and did not take;
//! - no dead letter keeps a credential (a string value under a credential key), and an authentication error never
//!   echoes the key.
//!
//! `fuzz_targets/` wraps them for libFuzzer (`run.sh`); `tests/corpus.rs` replays the corpus in `cargo test`.
//! How to run, the corpus and the figures: `crates/packetpulse-model/README.md`, "Fuzzing".

use std::sync::OnceLock;
use std::time::Duration;

use packetpulse_model::{FrameReply, PublishedEvent};
use venus::auth::{Authenticator, Identity, check_authentication_frame};
use venus::frame::{
    FrameLimits, FramePlan, MAX_DEAD_LETTER_PAYLOAD_BYTES, compose_reply, plan_binary_frame, plan_text_frame,
};
use venus::redact::credentials;

/// The API key the session harness accepts (an in-memory authenticator of the harness, nothing deployed).
pub const API_KEY: &str = "fuzz-harness-key-3f9a1c7e52b40d86";

/// Separates the messages of a session input (ASCII record separator).
pub const MESSAGE_SEPARATOR: u8 = 0x1e;

/// Venus' default limits (`VENUS_MAX_FRAME_BYTES`, `VENUS_MAX_EVENTS_PER_FRAME`, `VENUS_MAX_CLOCK_SKEW`).
const LIMITS: FrameLimits = FrameLimits {
    max_frame_bytes: 1024 * 1024,
    max_events: 1_000,
    max_clock_skew: Duration::from_secs(600),
};

fn authenticator() -> &'static Authenticator {
    static AUTHENTICATOR: OnceLock<Authenticator> = OnceLock::new();
    AUTHENTICATOR.get_or_init(|| {
        Authenticator::new(&format!("fuzz:{API_KEY}"), None, None, "venus")
            .unwrap_or_else(|error| panic!("the harness' authenticator: {error}"))
    })
}

fn fleet_identity() -> Identity {
    Identity {
        name: "api-key:fuzz".into(),
        vehicle: None,
        credential: None,
    }
}

/// One data frame, as text (lossily decoded, as the WebSocket layer only hands over valid UTF-8) and as a
/// binary frame, planned for a fleet credential and for a credential limited to one vehicle.
pub fn frame(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let vehicle = Identity {
        vehicle: Some("vehicle-1".into()),
        ..fleet_identity()
    };
    for identity in [fleet_identity(), vehicle] {
        let plan = plan_text_frame(&text, LIMITS, &identity);
        check_plan(&plan, text.len());
        // What is published reads back unchanged (the contract every consumer relies on).
        for (_, published) in &plan.events {
            let reread = PublishedEvent::from_json(published.to_json().as_bytes())
                .unwrap_or_else(|error| panic!("published JSON does not read back: {error:?}"));
            assert_eq!(&reread, published, "published JSON reads back different");
        }
    }
    check_plan(&plan_binary_frame(data, &fleet_identity()), data.len());
}

/// A whole session: messages separated by [`MESSAGE_SEPARATOR`]. The first is the authentication frame; a
/// session that fails it ends there, as Venus closes it. Each further message is a frame: its first byte chooses
/// text or binary (bit 0) and what Kafka answers (bits 1–2: everything taken, every other event refused, the
/// dead letters not written), the rest is the frame.
pub fn session(data: &[u8]) {
    let mut messages = data.split(|byte| *byte == MESSAGE_SEPARATOR);
    let Some(first) = messages.next() else {
        return;
    };
    let Ok(authentication) = std::str::from_utf8(first) else {
        return;
    };
    let identity = match check_authentication_frame(
        authentication,
        |key| authenticator().api_key(key),
        |token| authenticator().token(token),
    ) {
        Ok(identity) => identity,
        Err(reason) => {
            assert!(
                !reason.contains(API_KEY),
                "an authentication error echoes the key: {reason}"
            );
            return;
        }
    };
    for message in messages {
        let Some((&control, frame)) = message.split_first() else {
            continue;
        };
        let plan = if control & 1 == 0 {
            let Ok(text) = std::str::from_utf8(frame) else {
                continue;
            };
            let plan = plan_text_frame(text, LIMITS, &identity);
            check_plan(&plan, text.len());
            plan
        } else {
            let plan = plan_binary_frame(frame, &identity);
            check_plan(&plan, frame.len());
            plan
        };
        let (failed, dead_letter_error) = match (control >> 1) & 3 {
            1 => ((0..plan.events.len()).step_by(2).collect(), None),
            2 => (Vec::new(), Some("Broker: message too large".to_owned())),
            _ => (Vec::new(), None),
        };
        let reply = compose_reply(
            &plan,
            failed.clone(),
            Some("Local: timed out".into()),
            dead_letter_error,
        );
        check_reply(&plan, &reply, &failed);
    }
}

/// The promises about a plan of a frame of `input_len` bytes.
fn check_plan(plan: &FramePlan, input_len: usize) {
    if plan.refusal.is_some() {
        assert!(plan.events.is_empty(), "a refused frame publishes nothing");
        assert_eq!(
            plan.dead_letters.len(),
            1,
            "a refused frame is dead-lettered once"
        );
    } else {
        assert_eq!(
            plan.events.len() + plan.rejected.len(),
            plan.event_count,
            "every event is published or rejected"
        );
        assert_eq!(
            plan.dead_letters.len(),
            plan.rejected.len(),
            "every rejected event is dead-lettered"
        );
        assert!(
            plan.event_count <= LIMITS.max_events,
            "more events than the limit were planned"
        );
        assert!(
            input_len <= LIMITS.max_frame_bytes,
            "an oversized frame was planned"
        );
    }
    for letter in &plan.dead_letters {
        assert!(
            letter.raw_payload.len() <= MAX_DEAD_LETTER_PAYLOAD_BYTES + 64,
            "a dead letter keeps {} bytes",
            letter.raw_payload.len()
        );
        // Nothing left to redact: no string value under a credential key survives (`venus::redact`).
        assert_eq!(
            credentials(&letter.raw_payload),
            letter.raw_payload.as_str(),
            "a dead letter keeps a credential"
        );
    }
    let bound =
        plan.events.len() * 640 + plan.dead_letters.len() * (MAX_DEAD_LETTER_PAYLOAD_BYTES + 64 * 1024);
    assert!(
        plan.estimated_bytes() <= bound,
        "a plan of {} bytes",
        plan.estimated_bytes()
    );
}

/// The promises about the reply to a planned frame with `failed` events refused by Kafka.
fn check_reply(plan: &FramePlan, reply: &FrameReply, failed: &[usize]) {
    serde_json::to_string(reply).unwrap_or_else(|error| panic!("the reply does not serialise: {error}"));
    if plan.refusal.is_none() {
        assert_eq!(
            reply.accepted + failed.len(),
            plan.events.len(),
            "accepted + failed = published"
        );
        assert_eq!(reply.rejected, plan.rejected);
        if reply.success {
            assert!(
                plan.rejected.is_empty() && failed.is_empty(),
                "a success with refused events"
            );
        }
    } else {
        assert!(!reply.success, "a refused frame is not a success");
    }
}
