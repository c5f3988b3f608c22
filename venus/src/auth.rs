//! Who is talking: API keys (compared in constant time), Mercury's device tokens (EdDSA, verified with Mercury's
//! public key; `iss`, `aud`, `nbf`, `exp` checked; bound to a vehicle unless issued for the fleet), and other
//! device JWTs (HS256 or RS256, `exp` and `aud` checked).

use std::fmt;

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use packetpulse_model::AuthenticationFrame;
use packetpulse_model::devices::{self, DeviceClaims};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use packetpulse_ops::secrets::{self, SecretError};

use crate::Error;

/// The settings the secrets come from, named in errors.
const API_KEYS: &str = "VENUS_API_KEYS";
const HS256_SECRET: &str = "VENUS_JWT_HS256_SECRET";
const DEVICE_TOKEN_KEY: &str = "VENUS_DEVICE_TOKEN_KEY";

/// An authenticated client, as named in logs, metrics and dead letters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Identity {
    /// `api-key:<name>`, `device:<device id>` or `jwt:<subject>`.
    pub name: String,
    /// The only vehicle this client may send events for; `None` for a fleet credential.
    pub vehicle: Option<String>,
    /// The id of a revocable credential (a Mercury device token's `jti`).
    pub credential: Option<String>,
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// Why credentials were refused; the message goes to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No configured key matches.
    #[error("invalid API key")]
    UnknownApiKey,
    /// The JWT failed validation (signature, expiry, audience, …).
    #[error("invalid token: {0}")]
    InvalidToken(String),
    /// JWTs are not configured on this gateway.
    #[error("token authentication is not enabled on this gateway; use an API key")]
    TokensDisabled,
    /// The device credential was revoked by an administrator.
    #[error("this device credential was revoked")]
    Revoked,
}

/// Reads a session's first frame: `{"type":"authentication"}` with exactly one of `api_key` (checked by `api_key`)
/// or `token` (checked by `token`). The error is the reason to give the client; it never echoes the credential.
pub fn check_authentication_frame(
    text: &str,
    api_key: impl FnOnce(&str) -> Result<Identity, AuthError>,
    token: impl FnOnce(&str) -> Result<Identity, AuthError>,
) -> Result<Identity, String> {
    const EXPECTED: &str = r#"not authenticated: send {"type":"authentication","api_key":"…"} or {"type":"authentication","token":"…"} first"#;
    let frame: AuthenticationFrame = serde_json::from_str(text).map_err(|_| EXPECTED.to_string())?;
    if frame.kind != AuthenticationFrame::TYPE {
        return Err(EXPECTED.into());
    }
    let result = match (frame.api_key, frame.token) {
        (Some(key), None) => api_key(&key),
        (None, Some(token_text)) => token(&token_text),
        _ => return Err("authentication frame needs exactly one of api_key or token".into()),
    };
    result.map_err(|e: AuthError| e.to_string())
}

/// The credentials Venus accepts.
pub struct Authenticator {
    /// SHA-256 of each key with its client name: comparing fixed-size digests keeps the comparison constant-time
    /// whatever the key lengths.
    api_keys: Vec<([u8; 32], String)>,
    jwt: Option<(DecodingKey, Validation)>,
    /// Mercury's device-token key and the checks its tokens pass.
    devices: Option<(DecodingKey, Validation)>,
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
}

impl Authenticator {
    /// Builds from `name:key,name:key`, an optional HS256 secret and an optional RS256 public key (PEM). Every
    /// key and the secret must pass `packetpulse_ops::secrets` (an empty, public or short one would let anyone
    /// in), and at least one way to authenticate must be configured.
    pub fn new(
        api_keys: &str,
        hs256_secret: Option<&str>,
        rs256_public_key_pem: Option<&[u8]>,
        audience: &str,
    ) -> Result<Self, Error> {
        Self::with_devices(api_keys, hs256_secret, rs256_public_key_pem, audience, "")
    }

    /// [`Authenticator::new`] plus Mercury's device-token key (`VENUS_DEVICE_TOKEN_KEY`: the raw Ed25519 public
    /// key, base64; empty: no device tokens).
    pub fn with_devices(
        api_keys: &str,
        hs256_secret: Option<&str>,
        rs256_public_key_pem: Option<&[u8]>,
        audience: &str,
        device_token_key: &str,
    ) -> Result<Self, Error> {
        let api_keys = parse_api_keys(api_keys)?;
        let devices = device_validation(device_token_key)?;
        if api_keys.is_empty()
            && hs256_secret.is_none()
            && rs256_public_key_pem.is_none()
            && devices.is_none()
        {
            return Err(SecretError::Missing { setting: API_KEYS }.into());
        }
        let jwt = match (hs256_secret, rs256_public_key_pem) {
            (Some(_), Some(_)) => {
                return Err(Error::Config(
                    "set either an HS256 secret or an RS256 public key, not both".into(),
                ));
            }
            (Some(secret), None) => {
                // An empty secret would accept tokens anyone can sign: refuse it rather than read it as "no JWTs".
                secrets::check_signing_key(HS256_SECRET, secret)?;
                Some((DecodingKey::from_secret(secret.as_bytes()), Algorithm::HS256))
            }
            (None, Some(pem)) => Some((
                DecodingKey::from_rsa_pem(pem)
                    .map_err(|e| Error::Config(format!("RS256 public key: {e}")))?,
                Algorithm::RS256,
            )),
            (None, None) => None,
        }
        .map(|(key, algorithm)| {
            let mut validation = Validation::new(algorithm);
            validation.set_audience(&[audience]);
            validation.set_required_spec_claims(&["exp", "aud", "sub"]);
            (key, validation)
        });
        Ok(Self {
            api_keys,
            jwt,
            devices,
        })
    }

    /// Checks an API key against every configured key, without stopping at the first match.
    pub fn api_key(&self, presented: &str) -> Result<Identity, AuthError> {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut matched: Option<&str> = None;
        for (expected, name) in &self.api_keys {
            if bool::from(expected.ct_eq(&digest)) {
                matched = Some(name);
            }
        }
        matched
            .map(|name| Identity {
                name: format!("api-key:{name}"),
                ..Identity::default()
            })
            .ok_or(AuthError::UnknownApiKey)
    }

    /// Validates a device JWT: one of Mercury's (EdDSA) or one signed with the configured HS256/RS256 key.
    pub fn token(&self, token: &str) -> Result<Identity, AuthError> {
        if self.jwt.is_none() && self.devices.is_none() {
            return Err(AuthError::TokensDisabled);
        }
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| AuthError::InvalidToken(e.to_string()))?;
        if header.alg == Algorithm::EdDSA {
            let (key, validation) = self.devices.as_ref().ok_or(AuthError::TokensDisabled)?;
            let data = jsonwebtoken::decode::<DeviceClaims>(token, key, validation)
                .map_err(|e| AuthError::InvalidToken(e.to_string()))?;
            let claims = data.claims;
            return Ok(Identity {
                name: format!("device:{}", claims.sub),
                vehicle: claims.vid,
                credential: Some(claims.jti),
            });
        }
        let (key, validation) = self.jwt.as_ref().ok_or(AuthError::TokensDisabled)?;
        let data = jsonwebtoken::decode::<Claims>(token, key, validation)
            .map_err(|e| AuthError::InvalidToken(e.to_string()))?;
        Ok(Identity {
            name: format!("jwt:{}", data.claims.sub),
            ..Identity::default()
        })
    }
}

/// The checks of Mercury's device tokens, from `VENUS_DEVICE_TOKEN_KEY` (none when it is empty).
fn device_validation(key: &str) -> Result<Option<(DecodingKey, Validation)>, Error> {
    let key = key.trim();
    if key.is_empty() {
        return Ok(None);
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(key)
        .ok()
        .filter(|raw| raw.len() == 32)
        .ok_or_else(|| {
            Error::Config(format!(
                "{DEVICE_TOKEN_KEY} must be Mercury's Ed25519 public key: 32 bytes, base64 (make up and make \
                 secrets write it)"
            ))
        })?;
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_audience(&[devices::AUDIENCE]);
    validation.set_issuer(&[devices::ISSUER]);
    validation.validate_nbf = true;
    validation.set_required_spec_claims(&["exp", "nbf", "aud", "iss", "sub", "jti"]);
    Ok(Some((DecodingKey::from_ed_der(&raw), validation)))
}

fn parse_api_keys(text: &str) -> Result<Vec<([u8; 32], String)>, Error> {
    text.split(',')
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, key) = pair
                .split_once(':')
                .filter(|(name, _)| !name.is_empty())
                .ok_or_else(|| {
                    Error::Config(format!("{API_KEYS}: entry {:?} is not name:key", redact(pair)))
                })?;
            secrets::check_secret(API_KEYS, key)?;
            Ok((Sha256::digest(key.as_bytes()).into(), name.to_owned()))
        })
        .collect()
}

/// The name part of a `name:key` entry, for error messages that must not print the key.
fn redact(pair: &str) -> String {
    match pair.split_once(':') {
        Some((name, _)) => format!("{name}:…"),
        None => "…".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_keys_identify_their_client() {
        let auth =
            Authenticator::new("mars:k1-0123456789, partner:k2-0123456789", None, None, "aud").unwrap();
        assert_eq!(auth.api_key("k2-0123456789").unwrap().name, "api-key:partner");
        assert_eq!(auth.api_key("k3"), Err(AuthError::UnknownApiKey));
        assert_eq!(auth.api_key(""), Err(AuthError::UnknownApiKey));
        assert_eq!(auth.token("x"), Err(AuthError::TokensDisabled));
    }

    #[test]
    fn empty_public_and_short_secrets_are_refused_naming_the_setting() {
        let refused = |result: Result<Authenticator, Error>| result.err().expect("refused").to_string();
        for secret in ["", "packetpulse-dev-only-jwt-secret-change-me", "fleet-secret"] {
            let error = refused(Authenticator::new("", Some(secret), None, "aud"));
            assert!(error.starts_with("VENUS_JWT_HS256_SECRET"), "{error}");
        }
        for keys in ["", "mars:packetpulse-dev-key", "mars:short"] {
            let error = refused(Authenticator::new(keys, None, None, "aud"));
            assert!(error.starts_with("VENUS_API_KEYS"), "{error}");
        }
    }

    #[test]
    fn malformed_key_lists_are_config_errors_without_the_key() {
        let error = Authenticator::new("mars-secret", None, None, "aud")
            .err()
            .unwrap()
            .to_string();
        assert!(
            error.contains("is not name:key") && !error.contains("mars-secret"),
            "{error}"
        );
        assert!(Authenticator::new("mars:", None, None, "aud").is_err());
        assert!(!error.contains("mars-secret"));
    }
}
