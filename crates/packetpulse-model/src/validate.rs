//! Validation: turns one JSON object into a [`WireEvent`], or into every problem it has, each with its field path.
//!
//! Fields are read one by one from the untyped JSON rather than through a derived `Deserialize`, because serde
//! stops at the first error while a sender deserves the whole list in one reply.

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::event::{DeliveryEvent, DeliveryStatus, WireEvent};

/// The fields every event must have, in the order validation reports them.
pub const REQUIRED_FIELDS: [&str; 12] = [
    "device_id",
    "vehicle_id",
    "session_id",
    "order_id",
    "status",
    "timestamp",
    "start_lat",
    "start_lon",
    "end_lat",
    "end_lon",
    "current_lat",
    "current_lon",
];

/// The bounds the contract puts on a value. Public so that senders (and docs) can quote them.
pub mod limits {
    /// Longest id (`device_id`, `vehicle_id`, `session_id`, `order_id`), in characters.
    pub const MAX_ID_CHARS: usize = 64;
    /// Longest `route_name`, in characters.
    pub const MAX_ROUTE_NAME_CHARS: usize = 256;
    /// Fastest plausible `speed_kmh`.
    pub const MAX_SPEED_KMH: f64 = 1000.0;
    /// Earliest accepted `timestamp`, Unix seconds: 1970-01-01T00:00:00Z (ClickHouse's `DateTime` starts there).
    pub const MIN_TIMESTAMP_UNIX_S: i64 = 0;
    /// First rejected `timestamp`, Unix seconds: 2100-01-01T00:00:00Z (ClickHouse's `DateTime` ends in 2106).
    pub const MAX_TIMESTAMP_UNIX_S_EXCLUSIVE: i64 = 4_102_444_800;
}

/// One problem with an input, e.g. `current_lat: 91.2 is outside [-90, 90]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// Where the problem is: a field name, `[3].field` inside a batch, `[3]` or `$` for a whole element.
    pub field: String,
    /// What is wrong, in words a sender can act on.
    pub message: String,
}

impl FieldError {
    /// A problem at `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Every problem found in one event; never empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(transparent)]
pub struct ValidationErrors(Vec<FieldError>);

impl ValidationErrors {
    pub(crate) fn single(error: FieldError) -> Self {
        Self(vec![error])
    }

    /// The problems, in field order.
    pub fn errors(&self) -> &[FieldError] {
        &self.0
    }

    /// Takes the problems out.
    pub fn into_errors(self) -> Vec<FieldError> {
        self.0
    }

    /// Prefixes every path with a batch index: `current_lat` becomes `[3].current_lat`, `$` becomes `[3]`.
    pub fn at_index(self, index: usize) -> Self {
        Self(
            self.0
                .into_iter()
                .map(|e| {
                    let field = if e.field == "$" {
                        format!("[{index}]")
                    } else {
                        format!("[{index}].{}", e.field)
                    };
                    FieldError {
                        field,
                        message: e.message,
                    }
                })
                .collect(),
        )
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

/// Validates one event given as a JSON value.
pub(crate) fn validate_value(value: &Value) -> Result<WireEvent, ValidationErrors> {
    match value {
        Value::Object(object) => validate_object(object),
        other => Err(ValidationErrors::single(FieldError::new(
            "$",
            format!("expected an event object, got {}", describe(other)),
        ))),
    }
}

fn validate_object(object: &Map<String, Value>) -> Result<WireEvent, ValidationErrors> {
    let mut fields = Fields {
        object,
        errors: Vec::new(),
    };
    let device_id = fields.id("device_id");
    let vehicle_id = fields.id("vehicle_id");
    let session_id = fields.id("session_id");
    let order_id = fields.id("order_id");
    let status = fields.status("status");
    let timestamp = fields.timestamp("timestamp");
    let start_lat = fields.latitude("start_lat");
    let start_lon = fields.longitude("start_lon");
    let end_lat = fields.latitude("end_lat");
    let end_lon = fields.longitude("end_lon");
    let current_lat = fields.latitude("current_lat");
    let current_lon = fields.longitude("current_lon");
    let event_id = fields.optional("event_id", Fields::event_id);
    let seq = fields.optional("seq", |f, name, v| f.unsigned(name, v, u64::MAX));
    let speed_kmh = fields.optional("speed_kmh", |f, name, v| {
        f.number_in(name, v, 0.0, limits::MAX_SPEED_KMH)
    });
    let heading_deg = fields.optional("heading_deg", |f, name, v| f.number_in(name, v, 0.0, 360.0));
    let route_name = fields.optional("route_name", |f, name, v| {
        f.string(name, v, limits::MAX_ROUTE_NAME_CHARS, true)
    });
    let waypoint_count = fields
        .optional("waypoint_count", |f, name, v| {
            f.unsigned(name, v, u32::MAX.into())
        })
        .map(|count| count.map(|c| u32::try_from(c).expect("bounded by u32::MAX above")));

    if !fields.errors.is_empty() {
        return Err(ValidationErrors(fields.errors));
    }
    // With no error recorded, every field was read: the `?`s below never fire.
    let event = (|| {
        let event = DeliveryEvent {
            device_id: device_id?,
            vehicle_id: vehicle_id?,
            session_id: session_id?,
            order_id: order_id?,
            status: status?,
            timestamp: timestamp?,
            start_lat: start_lat?,
            start_lon: start_lon?,
            end_lat: end_lat?,
            end_lon: end_lon?,
            current_lat: current_lat?,
            current_lon: current_lon?,
            seq: seq?,
            speed_kmh: speed_kmh?,
            heading_deg: heading_deg?,
            route_name: route_name?,
            waypoint_count: waypoint_count?,
        };
        Some(WireEvent {
            event_id: event_id?,
            event,
        })
    })();
    Ok(event.expect("no error was recorded, so every field was read"))
}

/// Reads fields of one object, recording each problem instead of stopping at it.
struct Fields<'a> {
    object: &'a Map<String, Value>,
    errors: Vec<FieldError>,
}

impl<'a> Fields<'a> {
    fn fail<T>(&mut self, field: &str, message: String) -> Option<T> {
        self.errors.push(FieldError::new(field, message));
        None
    }

    /// The value of a rule that passed, or `None` with its problem recorded.
    fn record<T>(&mut self, field: &str, checked: Result<T, String>) -> Option<T> {
        match checked {
            Ok(value) => Some(value),
            Err(problem) => self.fail(field, problem),
        }
    }

    fn required(&mut self, name: &str) -> Option<&'a Value> {
        match self.object.get(name) {
            None | Some(Value::Null) => {
                self.errors.push(FieldError::new(name, "is required"));
                None
            }
            Some(value) => Some(value),
        }
    }

    /// An optional field: absent or `null` is `Some(None)`; a present value goes through `read`; `None` is an error.
    fn optional<T>(
        &mut self,
        name: &str,
        read: impl FnOnce(&mut Self, &str, &Value) -> Option<T>,
    ) -> Option<Option<T>> {
        let object = self.object;
        match object.get(name) {
            None | Some(Value::Null) => Some(None),
            Some(value) => read(self, name, value).map(Some),
        }
    }

    fn id(&mut self, name: &str) -> Option<String> {
        let value = self.required(name)?;
        self.string(name, value, limits::MAX_ID_CHARS, false)
    }

    fn string(&mut self, name: &str, value: &Value, max_chars: usize, allow_empty: bool) -> Option<String> {
        let Value::String(text) = value else {
            return self.fail(name, format!("expected a string, got {}", describe(value)));
        };
        match rules::text_problem(text, max_chars, allow_empty) {
            Some(problem) => self.fail(name, problem),
            None => Some(text.clone()),
        }
    }

    fn status(&mut self, name: &str) -> Option<DeliveryStatus> {
        let value = self.required(name)?;
        let Value::String(text) = value else {
            return self.fail(name, format!("expected a string, got {}", describe(value)));
        };
        let checked = rules::status(text);
        self.record(name, checked)
    }

    fn timestamp(&mut self, name: &str) -> Option<DateTime<Utc>> {
        let value = self.required(name)?;
        let Value::String(text) = value else {
            return self.fail(
                name,
                format!("expected an RFC 3339 timestamp string, got {}", describe(value)),
            );
        };
        let checked = rules::timestamp(text);
        self.record(name, checked)
    }

    fn latitude(&mut self, name: &str) -> Option<f64> {
        let value = self.required(name)?;
        self.number_in(name, value, -90.0, 90.0)
    }

    fn longitude(&mut self, name: &str) -> Option<f64> {
        let value = self.required(name)?;
        self.number_in(name, value, -180.0, 180.0)
    }

    /// A number in `[min, max]`; the message quotes the bounds as written in the contract, e.g. `[-90, 90]`.
    fn number_in(&mut self, name: &str, value: &Value, min: f64, max: f64) -> Option<f64> {
        let Some(number) = value.as_f64() else {
            return self.fail(name, format!("expected a number, got {}", describe(value)));
        };
        if !rules::in_range(number, min, max) {
            return self.fail(name, format!("{value} is outside [{min}, {max}]"));
        }
        Some(number)
    }

    fn unsigned(&mut self, name: &str, value: &Value, max: u64) -> Option<u64> {
        match value.as_u64() {
            Some(n) if n <= max => Some(n),
            Some(n) => self.fail(name, format!("{n} is larger than {max}")),
            None => self.fail(
                name,
                format!("expected a non-negative integer, got {}", describe(value)),
            ),
        }
    }

    fn event_id(&mut self, name: &str, value: &Value) -> Option<Uuid> {
        let Value::String(text) = value else {
            return self.fail(name, format!("expected a UUID string, got {}", describe(value)));
        };
        let checked = rules::event_id(text);
        self.record(name, checked)
    }
}

/// The rules themselves, shared by the fast path (which only asks whether a value passes) and the field-by-field
/// path (which words the problem), so the two can never disagree.
mod rules {
    use chrono::{DateTime, Utc};
    use uuid::Uuid;

    use super::limits;
    use crate::event::DeliveryStatus;
    use crate::timestamp;

    /// Why a string is not acceptable, or `None`.
    pub(super) fn text_problem(text: &str, max_chars: usize, allow_empty: bool) -> Option<String> {
        let chars = text.chars().count();
        if chars == 0 && !allow_empty {
            return Some("must not be empty".into());
        }
        if chars > max_chars {
            return Some(format!("is {chars} characters long, at most {max_chars} allowed"));
        }
        // Ids become Kafka keys, file paths and URL segments, and the event-id derivation separates fields with
        // a newline: control characters have no business there.
        if text.chars().any(char::is_control) {
            return Some("must not contain control characters".into());
        }
        None
    }

    pub(super) fn status(text: &str) -> Result<DeliveryStatus, String> {
        text.parse().map_err(|unknown| format!("{unknown}"))
    }

    pub(super) fn timestamp(text: &str) -> Result<DateTime<Utc>, String> {
        let t = timestamp::parse(text).ok_or_else(|| {
            format!(
                "{text:?} is not an RFC 3339 timestamp (e.g. 2024-05-01T12:30:00Z; without an offset it is taken \
                 as UTC)"
            )
        })?;
        if !(limits::MIN_TIMESTAMP_UNIX_S..limits::MAX_TIMESTAMP_UNIX_S_EXCLUSIVE).contains(&t.timestamp()) {
            return Err(format!("{text} is outside [1970-01-01, 2100-01-01)"));
        }
        Ok(t)
    }

    pub(super) fn in_range(number: f64, min: f64, max: f64) -> bool {
        number.is_finite() && number >= min && number <= max
    }

    pub(super) fn event_id(text: &str) -> Result<Uuid, String> {
        match Uuid::parse_str(text) {
            Ok(id) if id.is_nil() => Err("must not be the nil UUID".into()),
            Ok(id) => Ok(id),
            Err(_) => Err(format!("{text:?} is not a UUID")),
        }
    }
}

/// The fast path: a typed parse that borrows strings and checks every rule, taken for the common case of a
/// valid event. It only ever accepts what the field-by-field path accepts, with the same result; anything it
/// does not accept (invalid, or merely unusual such as duplicate keys) goes the field-by-field way, which words
/// every problem.
pub(crate) fn validate_fast(json: &str) -> Option<WireEvent> {
    serde_json::from_str::<FastEvent<'_>>(json).ok()?.into_valid()
}

/// The fast path for a batch frame: every element parsed and checked in one pass over the text, or `None` as
/// soon as any element needs the field-by-field path (which then handles the whole frame).
pub(crate) fn validate_fast_batch(json: &str) -> Option<Vec<WireEvent>> {
    let events: Vec<FastEvent<'_>> = serde_json::from_str(json).ok()?;
    if events.is_empty() {
        return None; // refused as a whole, with its own error, by the other path
    }
    events.into_iter().map(FastEvent::into_valid).collect()
}

/// One event as the fast path reads it: typed, with strings borrowed from the frame where they need no unescaping.
#[derive(Deserialize)]
struct FastEvent<'a> {
    #[serde(borrow)]
    device_id: Cow<'a, str>,
    #[serde(borrow)]
    vehicle_id: Cow<'a, str>,
    #[serde(borrow)]
    session_id: Cow<'a, str>,
    #[serde(borrow)]
    order_id: Cow<'a, str>,
    #[serde(borrow)]
    status: Cow<'a, str>,
    #[serde(borrow)]
    timestamp: Cow<'a, str>,
    start_lat: f64,
    start_lon: f64,
    end_lat: f64,
    end_lon: f64,
    current_lat: f64,
    current_lon: f64,
    #[serde(default, borrow)]
    event_id: Option<Cow<'a, str>>,
    #[serde(default)]
    seq: Option<u64>,
    #[serde(default)]
    speed_kmh: Option<f64>,
    #[serde(default)]
    heading_deg: Option<f64>,
    #[serde(default, borrow)]
    route_name: Option<Cow<'a, str>>,
    #[serde(default)]
    waypoint_count: Option<u32>,
}

impl FastEvent<'_> {
    /// The event if it passes every rule, `None` otherwise (the field-by-field path then says why).
    fn into_valid(self) -> Option<WireEvent> {
        let e = self;
        let ids = [&e.device_id, &e.vehicle_id, &e.session_id, &e.order_id];
        if ids
            .iter()
            .any(|id| rules::text_problem(id, limits::MAX_ID_CHARS, false).is_some())
        {
            return None;
        }
        let latitudes = [e.start_lat, e.end_lat, e.current_lat];
        let longitudes = [e.start_lon, e.end_lon, e.current_lon];
        if !latitudes.iter().all(|&lat| rules::in_range(lat, -90.0, 90.0))
            || !longitudes.iter().all(|&lon| rules::in_range(lon, -180.0, 180.0))
            || !e
                .speed_kmh
                .is_none_or(|v| rules::in_range(v, 0.0, limits::MAX_SPEED_KMH))
            || !e.heading_deg.is_none_or(|v| rules::in_range(v, 0.0, 360.0))
            || e.route_name
                .as_deref()
                .is_some_and(|n| rules::text_problem(n, limits::MAX_ROUTE_NAME_CHARS, true).is_some())
        {
            return None;
        }
        let event_id = match &e.event_id {
            Some(text) => Some(rules::event_id(text).ok()?),
            None => None,
        };
        Some(WireEvent {
            event_id,
            event: DeliveryEvent {
                status: rules::status(&e.status).ok()?,
                timestamp: rules::timestamp(&e.timestamp).ok()?,
                device_id: e.device_id.into_owned(),
                vehicle_id: e.vehicle_id.into_owned(),
                session_id: e.session_id.into_owned(),
                order_id: e.order_id.into_owned(),
                start_lat: e.start_lat,
                start_lon: e.start_lon,
                end_lat: e.end_lat,
                end_lon: e.end_lon,
                current_lat: e.current_lat,
                current_lon: e.current_lon,
                seq: e.seq,
                speed_kmh: e.speed_kmh,
                heading_deg: e.heading_deg,
                route_name: e.route_name.map(Cow::into_owned),
                waypoint_count: e.waypoint_count,
            },
        })
    }
}

/// A short description of a JSON value for error messages; long values are cut so replies stay small.
fn describe(value: &Value) -> String {
    const MAX: usize = 40;
    let kind = match value {
        Value::Null => return "null".into(),
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => return "an array".into(),
        Value::Object(_) => return "an object".into(),
    };
    let text = value.to_string();
    if text.chars().count() > MAX {
        let cut: String = text.chars().take(MAX).collect();
        format!("{kind} ({cut}…)")
    } else {
        format!("{kind} ({text})")
    }
}

#[cfg(test)]
mod fast_path_tests {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::{validate_fast, validate_value};

    fn base() -> Value {
        json!({
            "device_id": "d-1", "vehicle_id": "v-1", "session_id": "s-1", "order_id": "o-1",
            "status": "en_route", "timestamp": "2024-05-01T12:30:00.5Z",
            "start_lat": 37.9, "start_lon": 23.7, "end_lat": 38.0, "end_lon": 23.8,
            "current_lat": 37.95, "current_lon": 23.75, "seq": 3, "speed_kmh": 31.5, "heading_deg": 90,
            "route_name": "athens-01", "waypoint_count": 88, "event_id": "0190f1a2-7b3c-7d4e-8f50-123456789abc"
        })
    }

    fn any_json() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            (-200.0..200.0_f64).prop_map(Value::from),
            ".{0,70}".prop_map(Value::String),
            prop_oneof![
                Just("started"),
                Just("completed"),
                Just("2024-05-01 12:30:00"),
                Just("1969-12-31T23:59:59Z")
            ]
            .prop_map(|s| Value::String(s.into())),
        ]
    }

    #[test]
    fn a_plain_valid_event_takes_the_fast_path() {
        assert!(validate_fast(&base().to_string()).is_some());
    }

    proptest! {
        #[test]
        fn the_batch_fast_path_agrees_with_the_path_element_by_element(
            field in prop::sample::select(vec!["device_id", "status", "timestamp", "current_lat", "event_id",
                "speed_kmh", "route_name", "unknown_field"]),
            value in any_json(),
            position in 0usize..3,
        ) {
            let mut events = vec![base(), base(), base()];
            events[position][field] = value;
            let text = Value::Array(events.clone()).to_string();
            if let Some(fast) = super::validate_fast_batch(&text) {
                let slow: Vec<_> = events.iter().map(validate_value).collect();
                prop_assert_eq!(fast.into_iter().map(Ok).collect::<Vec<_>>(), slow);
            }
        }

        #[test]
        fn the_fast_path_only_accepts_what_the_full_validation_accepts(
            field in prop::sample::select(vec!["device_id", "vehicle_id", "status", "timestamp", "start_lat",
                "current_lon", "event_id", "seq", "speed_kmh", "heading_deg", "route_name", "waypoint_count",
                "unknown_field"]),
            value in any_json(),
            remove in any::<bool>(),
        ) {
            let mut event = base();
            if remove {
                event.as_object_mut().unwrap().remove(field);
            } else {
                event[field] = value;
            }
            let text = event.to_string();
            if let Some(fast) = validate_fast(&text) {
                prop_assert_eq!(Ok(fast), validate_value(&event));
            }
        }
    }
}
