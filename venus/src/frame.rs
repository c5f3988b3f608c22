//! What to do with one data frame, decided before touching Kafka: which events to publish, what to dead-letter,
//! and how to word the reply once Kafka has answered. Pure functions, so every rule is testable without I/O.

use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use packetpulse_model::{
    DeadLetter, FieldError, FrameError, FrameReply, PublishedEvent, WireEvent, parse_frame,
};

use crate::auth::Identity;
use crate::redact;

/// Dead letters carry at most this much of the raw input: Kafka refuses messages over 1 MB by default.
pub const MAX_DEAD_LETTER_PAYLOAD_BYTES: usize = 256 * 1024;

/// What a published event's JSON is taken to weigh: ~400 bytes typically, more with long ids and route names
/// (the message budget bounds those).
const EVENT_BYTES_ESTIMATE: usize = 640;

/// A dead letter's keys, client, source and timestamps.
const DEAD_LETTER_OVERHEAD_BYTES: usize = 256;

/// The limits a frame is checked against.
#[derive(Debug, Clone, Copy)]
pub struct FrameLimits {
    /// Largest text frame, bytes.
    pub max_frame_bytes: usize,
    /// Most events in one frame.
    pub max_events: usize,
    /// How far an event's `timestamp` may be ahead of the time Venus received it.
    pub max_clock_skew: std::time::Duration,
}

/// A decided frame: the events to publish (with their index in the frame) and the dead letters to write.
#[derive(Debug)]
pub struct FramePlan {
    /// Valid events, normalised, with their position in the frame.
    pub events: Vec<(usize, PublishedEvent)>,
    /// Dead letters for refused input.
    pub dead_letters: Vec<DeadLetter>,
    /// How many events the frame held (1 for a single object; 0 when refused whole).
    pub event_count: usize,
    /// Indexes of invalid events.
    pub rejected: Vec<usize>,
    /// Every validation problem.
    pub errors: Vec<FieldError>,
    /// Set when the frame was refused as a whole, with the reason for the client.
    pub refusal: Option<String>,
    /// Metric label of each refused item (a field name or a frame-level reason).
    pub rejection_reasons: Vec<String>,
}

impl FramePlan {
    /// How many Kafka messages executing the plan enqueues.
    pub fn message_count(&self) -> usize {
        self.events.len() + self.dead_letters.len()
    }

    /// About how many bytes those messages take in the producer: events at a fixed upper estimate of their
    /// JSON, dead letters by what they carry (known before they are written).
    pub fn estimated_bytes(&self) -> usize {
        let letters: usize = self
            .dead_letters
            .iter()
            .map(|letter| {
                let errors: usize = letter
                    .errors
                    .iter()
                    .map(|e| e.field.len() + e.message.len() + 32)
                    .sum();
                letter.raw_payload.len() + letter.reason.len() + errors + DEAD_LETTER_OVERHEAD_BYTES
            })
            .sum();
        self.events.len() * EVENT_BYTES_ESTIMATE + letters
    }

    fn refused(reason_label: &str, message: String, raw: &str, identity: &Identity) -> Self {
        Self {
            events: Vec::new(),
            dead_letters: vec![dead_letter(raw, &message, Vec::new(), identity)],
            event_count: 0,
            rejected: Vec::new(),
            errors: Vec::new(),
            refusal: Some(message),
            rejection_reasons: vec![reason_label.into()],
        }
    }
}

/// Decides a text frame.
pub fn plan_text_frame(text: &str, limits: FrameLimits, identity: &Identity) -> FramePlan {
    if text.len() > limits.max_frame_bytes {
        let message = format!(
            "frame is {} bytes, the limit is {} bytes",
            text.len(),
            limits.max_frame_bytes
        );
        return FramePlan::refused("too_large", message, text, identity);
    }
    let events = match parse_frame(text) {
        Ok(events) => events,
        Err(error) => {
            let label = match error {
                FrameError::NotJson(_) => "not_json",
                FrameError::NotAnEventOrBatch(_) => "not_event_or_batch",
                FrameError::EmptyBatch => "empty_batch",
            };
            return FramePlan::refused(label, error.to_string(), text, identity);
        }
    };
    if events.len() > limits.max_events {
        let message = format!(
            "frame has {} events, the limit is {} per frame",
            events.len(),
            limits.max_events
        );
        return FramePlan::refused("too_many_events", message, text, identity);
    }
    let received_at = Utc::now();
    let mut plan = FramePlan {
        events: Vec::with_capacity(events.len()),
        dead_letters: Vec::new(),
        event_count: events.len(),
        rejected: Vec::new(),
        errors: Vec::new(),
        refusal: None,
        rejection_reasons: Vec::new(),
    };
    let batch = text.trim_start().starts_with('[');
    for (index, event) in events.into_iter().enumerate() {
        match event.result {
            Ok(wire) => match refusal(&wire, identity, batch.then_some(index), received_at, limits) {
                None => plan.events.push((index, wire.publish(received_at))),
                Some(error) => {
                    let raw = serde_json::to_string(&wire).expect("events always serialise");
                    plan.reject(index, vec![error], &raw, identity);
                }
            },
            Err(rejected) => plan.reject(index, rejected.errors.into_errors(), rejected.raw, identity),
        }
    }
    plan
}

/// Why a valid event may still not be published by this sender now (`index` set inside a batch).
fn refusal(
    wire: &WireEvent,
    identity: &Identity,
    index: Option<usize>,
    received_at: DateTime<Utc>,
    limits: FrameLimits,
) -> Option<FieldError> {
    let field = |name: &str| match index {
        Some(index) => format!("[{index}].{name}"),
        None => name.to_owned(),
    };
    foreign_vehicle(wire, identity, field("vehicle_id"))
        .or_else(|| from_the_future(wire, received_at, limits.max_clock_skew, field("timestamp")))
}

/// An event stamped further ahead of its arrival than clocks drift: a session would freeze on it (its newest
/// event forever) and the bronze layer would open a partition for that day.
fn from_the_future(
    wire: &WireEvent,
    received_at: DateTime<Utc>,
    max_skew: std::time::Duration,
    field: String,
) -> Option<FieldError> {
    let skew = chrono::Duration::from_std(max_skew).unwrap_or(chrono::Duration::MAX);
    let latest = received_at
        .checked_add_signed(skew)
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    if wire.event.timestamp <= latest {
        return None;
    }
    Some(FieldError::new(
        field,
        format!(
            "{} is more than {} ahead of the gateway's clock (VENUS_MAX_CLOCK_SKEW): check the device's clock",
            wire.event.timestamp.to_rfc3339_opts(SecondsFormat::AutoSi, true),
            humantime::format_duration(max_skew)
        ),
    ))
}

/// The error of an event a vehicle credential may not send: another vehicle's.
fn foreign_vehicle(wire: &WireEvent, identity: &Identity, field: String) -> Option<FieldError> {
    let own = identity.vehicle.as_deref()?;
    if wire.event.vehicle_id == own {
        return None;
    }
    Some(FieldError::new(
        field,
        format!(
            "{:?} is not the vehicle this credential belongs to ({own:?}): a device sends its own vehicle's events only",
            wire.event.vehicle_id
        ),
    ))
}

impl FramePlan {
    /// Refuses event `index` of the frame for `errors`; `raw` is what the dead letter keeps.
    fn reject(&mut self, index: usize, errors: Vec<FieldError>, raw: &str, identity: &Identity) {
        self.rejected.push(index);
        self.rejection_reasons.push(reason_label(&errors[0]));
        let reason = errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        self.dead_letters
            .push(dead_letter(raw, &reason, errors.clone(), identity));
        self.errors.extend(errors);
    }
}

/// Decides a binary frame: always refused (the protocol is JSON text), dead-lettered as base64.
pub fn plan_binary_frame(bytes: &[u8], identity: &Identity) -> FramePlan {
    // Base64 grows data by 4/3: cut the input so the encoded payload stays within the dead-letter limit.
    let kept = &bytes[..bytes.len().min(MAX_DEAD_LETTER_PAYLOAD_BYTES / 4 * 3)];
    let encoded = base64::engine::general_purpose::STANDARD.encode(kept);
    let message = "binary frames are not supported: send events as JSON text frames".to_string();
    let mut plan = FramePlan::refused("binary", message, &encoded, identity);
    plan.dead_letters[0].reason = format!(
        "binary frame of {} bytes (raw_payload is base64{})",
        bytes.len(),
        if kept.len() < bytes.len() {
            format!(" of the first {} bytes", kept.len())
        } else {
            String::new()
        }
    );
    plan
}

/// The reply once Kafka answered: `failed` are the indexes of events Kafka did not take (with its reason), and
/// `dead_letter_error` is set when a dead letter could not be written.
pub fn compose_reply(
    plan: &FramePlan,
    failed: Vec<usize>,
    failure_reason: Option<String>,
    dead_letter_error: Option<String>,
) -> FrameReply {
    let accepted = plan.events.len() - failed.len();
    let dead_letter_note =
        dead_letter_error.map(|e| format!("; the refused input could not be dead-lettered ({e}), resend it"));
    if let Some(refusal) = &plan.refusal {
        let retryable = dead_letter_note.is_some();
        let message = format!("{refusal}{}", dead_letter_note.unwrap_or_default());
        return FrameReply {
            retryable,
            ..FrameReply::refused(message)
        };
    }
    if plan.rejected.is_empty() && failed.is_empty() && dead_letter_note.is_none() {
        return FrameReply::received(accepted);
    }
    let mut parts = Vec::new();
    if !plan.rejected.is_empty() {
        let shown: Vec<String> = plan.errors.iter().take(10).map(ToString::to_string).collect();
        let more = plan.errors.len().saturating_sub(shown.len());
        let more = if more > 0 {
            format!(" … and {more} more (see errors)")
        } else {
            String::new()
        };
        let what = if plan.event_count == 1 {
            "event rejected".to_string()
        } else {
            format!("{} of {} events rejected", plan.rejected.len(), plan.event_count)
        };
        parts.push(format!("{what}: {}{more}", shown.join("; ")));
    }
    if !failed.is_empty() {
        parts.push(format!(
            "Kafka did not take {} of {} valid events ({}): resend them with the same event ids",
            failed.len(),
            plan.events.len(),
            failure_reason.unwrap_or_else(|| "unknown reason".into())
        ));
    }
    let retryable = !failed.is_empty() || dead_letter_note.is_some();
    FrameReply {
        success: false,
        message: format!("{}{}", parts.join("; "), dead_letter_note.unwrap_or_default()),
        accepted,
        rejected: plan.rejected.clone(),
        failed,
        retryable,
        errors: plan.errors.clone(),
    }
}

/// The metric label for a validation error: its field without the batch index, or `event` for the whole element.
fn reason_label(error: &FieldError) -> String {
    let field = error
        .field
        .rsplit_once("].")
        .map_or(error.field.as_str(), |(_, field)| field);
    if field == "$" || field.starts_with('[') {
        "event".into()
    } else {
        field.into()
    }
}

fn dead_letter(raw: &str, reason: &str, errors: Vec<FieldError>, identity: &Identity) -> DeadLetter {
    let raw = redact::credentials(raw);
    let raw = raw.as_ref();
    let (raw_payload, reason) = if raw.len() > MAX_DEAD_LETTER_PAYLOAD_BYTES {
        let mut cut = MAX_DEAD_LETTER_PAYLOAD_BYTES;
        while !raw.is_char_boundary(cut) {
            cut -= 1;
        }
        (
            raw[..cut].to_owned(),
            format!(
                "{reason} (raw_payload truncated to its first {cut} of {} bytes)",
                raw.len()
            ),
        )
    } else {
        (raw.to_owned(), reason.to_owned())
    };
    DeadLetter {
        raw_payload,
        reason,
        errors,
        client: Some(identity.name.clone()),
        source: "venus".into(),
        kafka_partition: None,
        kafka_offset: None,
        refused_at: Utc::now(),
    }
}
