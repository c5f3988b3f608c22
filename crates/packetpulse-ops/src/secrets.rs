//! The rule every planet applies to the secrets it is given: none is built in, none may be empty, none may be a
//! value that has ever been public (a default of this repository or of the software around it), and signing keys
//! are long enough to resist guessing. A planet checks its secrets before it starts anything, and the error names
//! the setting to change and how to make a good value.

/// Shortest HS256 signing key accepted, in bytes (the hash's output size; RFC 7518 §3.2).
pub const MIN_SIGNING_KEY_BYTES: usize = 32;

/// Shortest password or API key accepted, in characters.
pub const MIN_SECRET_CHARS: usize = 12;

/// Values that have been public: this repository's former development defaults and the vendors' own. Compared
/// without regard to case.
const KNOWN_SECRETS: &[&str] = &[
    "packetpulse-dev-key",
    "packetpulse-dev-only-jwt-secret-change-me",
    "minioadmin",
    "password",
    "packetpulse",
    "dev-cookie-secret-change-me",
    "dev-passphrase-change-me",
    "admin",
    "secret",
    "changeme",
    "change-me",
];

/// How to make a good value, for every message.
const HOW_TO_FIX: &str = "make up generates them into .packetpulse/secrets.env, `make secrets` writes a .env for \
                          docker compose (see .env.example)";

/// A secret a planet refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// Not set, or set to nothing.
    #[error("{setting} is not set: set it to a long random value ({HOW_TO_FIX})")]
    Missing {
        /// The environment variable.
        setting: &'static str,
    },
    /// A value anyone can look up.
    #[error("{setting} is a publicly known value, so anyone could use it: set a random one ({HOW_TO_FIX})")]
    Known {
        /// The environment variable.
        setting: &'static str,
    },
    /// Too short to resist guessing.
    #[error("{setting} is {length} long; at least {minimum} are needed: set a random one ({HOW_TO_FIX})")]
    TooShort {
        /// The environment variable.
        setting: &'static str,
        /// Its length, with unit.
        length: String,
        /// The minimum, with unit.
        minimum: String,
    },
}

/// Whether `value` is one of the values that have been public.
pub fn is_known(value: &str) -> bool {
    KNOWN_SECRETS
        .iter()
        .any(|known| known.eq_ignore_ascii_case(value.trim()))
}

/// A password or API key from `setting`: set, not public, at least [`MIN_SECRET_CHARS`] characters.
pub fn check_secret(setting: &'static str, value: &str) -> Result<(), SecretError> {
    check_common(setting, value)?;
    let chars = value.chars().count();
    if chars < MIN_SECRET_CHARS {
        return Err(SecretError::TooShort {
            setting,
            length: format!("{chars} characters"),
            minimum: format!("{MIN_SECRET_CHARS} characters"),
        });
    }
    Ok(())
}

/// An HS256 signing key from `setting`: set, not public, at least [`MIN_SIGNING_KEY_BYTES`] bytes.
pub fn check_signing_key(setting: &'static str, value: &str) -> Result<(), SecretError> {
    check_common(setting, value)?;
    if value.len() < MIN_SIGNING_KEY_BYTES {
        return Err(SecretError::TooShort {
            setting,
            length: format!("{} bytes", value.len()),
            minimum: format!("{MIN_SIGNING_KEY_BYTES} bytes"),
        });
    }
    Ok(())
}

/// A credential's public half (an S3 access key id, a user name) from `setting`: set, and not a public default.
pub fn check_not_public(setting: &'static str, value: &str) -> Result<(), SecretError> {
    check_common(setting, value)
}

fn check_common(setting: &'static str, value: &str) -> Result<(), SecretError> {
    if value.trim().is_empty() {
        return Err(SecretError::Missing { setting });
    }
    if is_known(value) {
        return Err(SecretError::Known { setting });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_known_and_short_values_are_refused_naming_the_setting() {
        let refused = [
            check_secret("X_KEY", ""),
            check_secret("X_KEY", "  "),
            check_secret("X_KEY", "MinioAdmin"),
            check_secret("X_KEY", "short"),
            check_signing_key("X_SECRET", "packetpulse-dev-only-jwt-secret-change-me"),
            check_signing_key("X_SECRET", "31-bytes-are-one-byte-too-short"),
        ];
        for result in refused {
            let error = result.expect_err("refused").to_string();
            assert!(error.starts_with("X_"), "{error}");
        }
    }

    #[test]
    fn long_random_values_are_accepted() {
        assert_eq!(check_secret("X_KEY", "q8Zr2mWx7PfL3kVn"), Ok(()));
        assert_eq!(
            check_signing_key("X_SECRET", &"k".repeat(MIN_SIGNING_KEY_BYTES)),
            Ok(())
        );
    }
}
