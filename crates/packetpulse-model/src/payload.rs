//! The published payload, written straight into bytes. Every event Venus publishes passes through here, and
//! serde's generic path spent most of its time escaping the fixed key names one byte at a time. The output is
//! exactly what `serde_json` makes of [`PublishedEvent`]'s `Serialize` (property-tested below).

use chrono::{DateTime, Datelike, SecondsFormat, Timelike, Utc};

use crate::event::PublishedEvent;

impl PublishedEvent {
    /// Appends the JSON payload to `out`, so a publisher can reuse one buffer for every event.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        write(self, out);
    }
}

/// Appends the JSON object of `event` to `out`.
pub(crate) fn write(event: &PublishedEvent, out: &mut Vec<u8>) {
    let e = &event.event;
    out.extend_from_slice(br#"{"event_id":""#);
    out.extend_from_slice(
        event
            .event_id
            .hyphenated()
            .encode_lower(&mut uuid::Uuid::encode_buffer())
            .as_bytes(),
    );
    out.push(b'"');
    key(out, "device_id");
    string(out, &e.device_id);
    key(out, "vehicle_id");
    string(out, &e.vehicle_id);
    key(out, "session_id");
    string(out, &e.session_id);
    key(out, "order_id");
    string(out, &e.order_id);
    key(out, "status");
    string(out, e.status.as_str());
    key(out, "timestamp");
    timestamp(out, &e.timestamp);
    for (name, value) in [
        ("start_lat", e.start_lat),
        ("start_lon", e.start_lon),
        ("end_lat", e.end_lat),
        ("end_lon", e.end_lon),
        ("current_lat", e.current_lat),
        ("current_lon", e.current_lon),
    ] {
        key(out, name);
        float(out, value);
    }
    if let Some(seq) = e.seq {
        key(out, "seq");
        out.extend_from_slice(itoa::Buffer::new().format(seq).as_bytes());
    }
    if let Some(speed) = e.speed_kmh {
        key(out, "speed_kmh");
        float(out, speed);
    }
    if let Some(heading) = e.heading_deg {
        key(out, "heading_deg");
        float(out, heading);
    }
    if let Some(route) = &e.route_name {
        key(out, "route_name");
        string(out, route);
    }
    if let Some(count) = e.waypoint_count {
        key(out, "waypoint_count");
        out.extend_from_slice(itoa::Buffer::new().format(count).as_bytes());
    }
    key(out, "received_at");
    timestamp(out, &event.received_at);
    out.push(b'}');
}

/// `,"name":` — the names are fixed ASCII that needs no escaping.
fn key(out: &mut Vec<u8>, name: &str) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
}

/// A JSON string; copied as is unless it holds a character JSON must escape (validated ids never do).
fn string(out: &mut Vec<u8>, text: &str) {
    if text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else {
        serde_json::to_writer(out, text).expect("a string always serialises");
    }
}

/// A number the way serde_json writes an `f64` (shortest round-trip form; `null` when not finite).
fn float(out: &mut Vec<u8>, value: f64) {
    if value.is_finite() {
        out.extend_from_slice(zmij::Buffer::new().format_finite(value).as_bytes());
    } else {
        out.extend_from_slice(b"null");
    }
}

/// RFC 3339 in UTC with `Z` and 0, 3, 6 or 9 fraction digits, as `timestamp::rfc3339` writes it.
fn timestamp(out: &mut Vec<u8>, t: &DateTime<Utc>) {
    // Through the naive value: `DateTime`'s accessors each convert from UTC again.
    let (date, time) = (t.date_naive(), t.time());
    let nanos = time.nanosecond();
    if !(0..=9999).contains(&date.year()) || nanos >= 1_000_000_000 {
        // Five-digit years and leap seconds: rare enough for chrono's general formatter.
        return string(out, &t.to_rfc3339_opts(SecondsFormat::AutoSi, true));
    }
    out.push(b'"');
    digits(out, date.year() as u32, 4);
    out.push(b'-');
    digits(out, date.month(), 2);
    out.push(b'-');
    digits(out, date.day(), 2);
    out.push(b'T');
    let seconds = time.num_seconds_from_midnight();
    digits(out, seconds / 3600, 2);
    out.push(b':');
    digits(out, seconds / 60 % 60, 2);
    out.push(b':');
    digits(out, seconds % 60, 2);
    if nanos != 0 {
        out.push(b'.');
        if nanos % 1_000_000 == 0 {
            digits(out, nanos / 1_000_000, 3);
        } else if nanos % 1_000 == 0 {
            digits(out, nanos / 1_000, 6);
        } else {
            digits(out, nanos, 9);
        }
    }
    out.extend_from_slice(b"Z\"");
}

/// `value` in exactly `width` decimal digits, zero-padded.
fn digits(out: &mut Vec<u8>, mut value: u32, width: usize) {
    let start = out.len();
    out.resize(start + width, b'0');
    for slot in out[start..].iter_mut().rev() {
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use crate::event::{DeliveryEvent, DeliveryStatus, PublishedEvent};

    fn any_float() -> impl Strategy<Value = f64> {
        prop_oneof![
            -180.0..180.0f64,
            any::<f64>(),
            Just(0.0),
            Just(-0.0),
            Just(270.0),
            Just(1e-7)
        ]
    }

    fn any_time() -> impl Strategy<Value = chrono::DateTime<chrono::Utc>> {
        prop_oneof![
            // Whole seconds, milliseconds, microseconds and nanoseconds, 1900–2200.
            (-2_208_988_800i64..7_258_118_400, 0u32..4, 0u32..1_000_000_000).prop_map(|(s, precision, n)| {
                let nanos = match precision {
                    0 => 0,
                    1 => n / 1_000_000 * 1_000_000,
                    2 => n / 1_000 * 1_000,
                    _ => n,
                };
                chrono::DateTime::from_timestamp(s, nanos).unwrap()
            }),
            Just(chrono::DateTime::<chrono::Utc>::MAX_UTC),
            Just(chrono::DateTime::<chrono::Utc>::MIN_UTC),
        ]
    }

    prop_compose! {
        fn any_published()(
            ids in prop::array::uniform5(".{0,12}"),
            status in prop::sample::select(vec![
                DeliveryStatus::Started,
                DeliveryStatus::EnRoute,
                DeliveryStatus::Completed,
            ]),
            times in (any_time(), any_time()),
            floats in prop::array::uniform9(any_float()),
            seq in any::<Option<u64>>(),
            count in any::<Option<u32>>(),
            optional in prop::array::uniform3(any::<bool>()),
            id in any::<u128>(),
        ) -> PublishedEvent {
            let [device_id, vehicle_id, session_id, order_id, route] = ids;
            PublishedEvent {
                event_id: uuid::Uuid::from_u128(id),
                event: DeliveryEvent {
                    device_id,
                    vehicle_id,
                    session_id,
                    order_id,
                    status,
                    timestamp: times.0,
                    start_lat: floats[0],
                    start_lon: floats[1],
                    end_lat: floats[2],
                    end_lon: floats[3],
                    current_lat: floats[4],
                    current_lon: floats[5],
                    seq,
                    speed_kmh: optional[0].then_some(floats[6]),
                    heading_deg: optional[1].then_some(floats[7]),
                    route_name: optional[2].then_some(route),
                    waypoint_count: count,
                },
                received_at: times.1,
            }
        }
    }

    proptest! {
        #[test]
        fn writes_what_serde_json_writes(event in any_published()) {
            let mut written = Vec::new();
            super::write(&event, &mut written);
            prop_assert_eq!(String::from_utf8(written).unwrap(), serde_json::to_string(&event).unwrap());
        }
    }
}
