//! Timestamps on the wire: RFC 3339 in, RFC 3339 UTC out, microsecond precision throughout.
//!
//! Microseconds because that is what Iceberg's `timestamptz` keeps; truncating once, here, means every layer and
//! the event-id derivation see the very same instant.

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};

/// Formats used for timestamps that carry no offset (the original simulator's Python `isoformat()`); they are UTC.
const NAIVE_FORMATS: [&str; 2] = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"];

/// Parses an RFC 3339 timestamp, or a naive ISO 8601 one taken as UTC; the result is truncated to microseconds.
pub(crate) fn parse(text: &str) -> Option<DateTime<Utc>> {
    let parsed = DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NAIVE_FORMATS
                .iter()
                .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
                .map(|naive| naive.and_utc())
        })?;
    Some(parsed.trunc_subsecs(6))
}

pub(crate) fn truncate_to_millis(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(3)
}

/// Serde adapter: RFC 3339 in UTC with `Z`, as few fractional digits as needed (0, 3, 6 or 9).
pub(crate) mod rfc3339 {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub(crate) fn serialize<S: Serializer>(t: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<DateTime<Utc>, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        super::parse(&text).ok_or_else(|| D::Error::custom(format!("{text:?} is not an RFC 3339 timestamp")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn naive_python_isoformat_is_utc() {
        let t = parse("2024-03-01T08:15:30.123456").unwrap();
        assert_eq!(t.to_rfc3339(), "2024-03-01T08:15:30.123456+00:00");
    }

    #[test]
    fn naive_with_space_separator_and_no_fraction() {
        assert_eq!(
            parse("2024-03-01 08:15:30").unwrap().to_rfc3339(),
            "2024-03-01T08:15:30+00:00"
        );
    }

    #[test]
    fn offset_is_converted_to_utc() {
        let t = parse("2024-03-01T10:15:30+02:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2024-03-01T08:15:30+00:00");
    }

    #[test]
    fn nanoseconds_are_truncated_to_microseconds() {
        let t = parse("2024-03-01T08:15:30.123456789Z").unwrap();
        assert_eq!(t.timestamp_subsec_nanos(), 123_456_000);
    }

    #[test]
    fn garbage_and_dates_alone_are_rejected() {
        for text in [
            "",
            "yesterday",
            "2024-03-01",
            "2024-13-01T00:00:00Z",
            "1714550400",
        ] {
            assert_eq!(parse(text), None, "{text}");
        }
    }
}
