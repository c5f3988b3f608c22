//! Validation: turns one JSON object into a [`WireEvent`], or into every problem it has, each with its field path.
//!
//! Fields are read one by one from the untyped JSON rather than through a derived `Deserialize`, because serde
//! stops at the first error while a sender deserves the whole list in one reply.

mod errors;
mod fast;
mod rules;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use uuid::Uuid;

pub use errors::{FieldError, ValidationErrors};
pub(crate) use fast::{validate_fast, validate_fast_batch};

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
        return Err(ValidationErrors::new(fields.errors));
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
