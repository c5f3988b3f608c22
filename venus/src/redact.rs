//! Keeps credentials out of dead letters: a client that sends its authentication frame again, or an event that
//! carries a token, must not leave the secret in a topic every operator can read.
//!
//! The scan is lexical, not a JSON round trip, so the dead letter keeps the input byte for byte (key order,
//! spacing, invalid JSON) except for the secret values themselves.

use std::borrow::Cow;

/// Keys whose string values are credentials, compared without regard to case.
const CREDENTIAL_KEYS: [&str; 7] = [
    "api_key",
    "apikey",
    "token",
    "access_token",
    "password",
    "secret",
    "authorization",
];

/// What a credential's value becomes.
pub const REDACTED: &str = "[redacted]";

/// `raw` with the string value of every credential key replaced by [`REDACTED`]; borrowed when nothing matched.
///
/// Every quote is tried as the start of a key, not only those a JSON reader would pair as keys: in invalid input
/// an unbalanced quote shifts the pairing, and a credential would then pass as a value (found by fuzzing).
/// Redacting a look-alike inside a string value is the price, and a harmless one.
pub fn credentials(raw: &str) -> Cow<'_, str> {
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut at = 0;
    while let Some(offset) = raw[at..].find('"') {
        let key_start = at + offset + 1;
        at = key_start;
        let Some((value_start, value_end)) = credential_value(raw, key_start) else {
            continue;
        };
        let out = out.get_or_insert_with(|| String::with_capacity(raw.len()));
        out.push_str(&raw[copied..value_start]);
        out.push_str(REDACTED);
        copied = value_end;
        at = (value_end + 1).min(raw.len());
    }
    match out {
        None => Cow::Borrowed(raw),
        Some(mut out) => {
            out.push_str(&raw[copied..]);
            Cow::Owned(out)
        }
    }
}

/// If a credential key's name starts at `key_start` (just after a quote) and a string value follows it, the
/// value's content: from its first byte to its closing quote (the end of `raw` for a cut value).
fn credential_value(raw: &str, key_start: usize) -> Option<(usize, usize)> {
    let key_end = key_start + raw[key_start..].find('"')?;
    let key = &raw[key_start..key_end];
    if !CREDENTIAL_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key)) {
        return None;
    }
    let value = raw[key_end + 1..].trim_start().strip_prefix(':')?.trim_start();
    value.strip_prefix('"')?;
    let value_start = raw.len() - value.len() + 1;
    Some((value_start, string_end(raw, value_start).unwrap_or(raw.len())))
}

/// The index of the quote closing the JSON string whose content starts at `start`, skipping escapes.
fn string_end(raw: &str, start: usize) -> Option<usize> {
    let bytes = raw.as_bytes();
    let mut i = start;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_authentication_frame_keeps_its_shape_without_the_key() {
        let raw = r#"{"type":"authentication", "API_KEY" : "k-12345678901234"}"#;
        assert_eq!(
            credentials(raw),
            r#"{"type":"authentication", "API_KEY" : "[redacted]"}"#
        );
    }

    #[test]
    fn every_credential_in_a_batch_is_redacted_and_other_values_stay() {
        let raw = r#"[{"token":"a\"b","device_id":"token"},{"password":"p","x":1},{"secret":"s"}]"#;
        assert_eq!(
            credentials(raw),
            r#"[{"token":"[redacted]","device_id":"token"},{"password":"[redacted]","x":1},{"secret":"[redacted]"}]"#
        );
    }

    #[test]
    fn invalid_and_cut_json_is_redacted_too() {
        assert_eq!(
            credentials(r#"{"api_key": "abc", oops"#),
            r#"{"api_key": "[redacted]", oops"#
        );
        assert_eq!(credentials(r#"{"token": "abcdef"#), r#"{"token": "[redacted]"#);
        assert_eq!(credentials(r#"{"token" 5, "#), r#"{"token" 5, "#);
    }

    #[test]
    fn a_credential_behind_an_unbalanced_quote_is_redacted() {
        // Found by fuzzing: the stray quote made a pairing reader take "api_key" for a value.
        let raw = r#"{"start_lat": 37.98, " "seq": 3, "api_key": "k-12345678901234", "token": "t"}"#;
        assert_eq!(
            credentials(raw),
            r#"{"start_lat": 37.98, " "seq": 3, "api_key": "[redacted]", "token": "[redacted]"}"#
        );
    }

    #[test]
    fn input_without_credentials_is_borrowed_unchanged() {
        let raw = r#"{"device_id":"d","status":"token","n":"\\"}"#;
        assert!(matches!(credentials(raw), Cow::Borrowed(r) if r == raw));
        assert!(matches!(credentials(r#"{"token": 12}"#), Cow::Borrowed(_)));
        assert!(matches!(credentials("\"unterminated"), Cow::Borrowed(_)));
    }
}
