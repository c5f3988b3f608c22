//! The rules a user's fields must meet, and password hashing (argon2id on the blocking pool: ~50 ms of CPU on
//! purpose).

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

use super::UserError;
use crate::notice::Notice;

/// Any printable text without `@` (which marks an email at login), 3 to 64 characters. Not restricted further:
/// pages escape whatever it holds.
pub(super) fn valid_username(username: &str) -> Result<&str, UserError> {
    let username = username.trim();
    let length = username.chars().count();
    if !(3..=64).contains(&length) {
        return Err(UserError::Refused(Notice::UsernameLength));
    }
    if username.contains('@') || username.chars().any(char::is_control) {
        return Err(UserError::Refused(Notice::UsernameCharacters));
    }
    Ok(username)
}

pub(super) fn valid_email(email: &str) -> Result<&str, UserError> {
    let email = email.trim();
    let well_formed = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        })
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if well_formed {
        Ok(email)
    } else {
        Err(UserError::Refused(Notice::EmailInvalid))
    }
}

pub(super) fn valid_password(password: &str) -> Result<(), UserError> {
    match password.chars().count() {
        0..8 => Err(UserError::Refused(Notice::PasswordShort)),
        8..=1024 => Ok(()),
        _ => Err(UserError::Refused(Notice::PasswordLong)),
    }
}

pub(super) async fn hash_password(password: String) -> Result<String, UserError> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|error| UserError::Hash(error.to_string()))
    })
    .await
    .map_err(|error| UserError::Hash(error.to_string()))?
}

pub(super) async fn verify_password(password: String, hash: String) -> Result<bool, UserError> {
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&hash).map_err(|error| UserError::Hash(error.to_string()))?;
        Ok(Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    })
    .await
    .map_err(|error| UserError::Hash(error.to_string()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_with_markup_are_allowed_but_not_at_signs_or_short_ones() {
        assert!(valid_username("<script>alert(1)</script>").is_ok());
        assert!(valid_username("a@b").is_err());
        assert!(valid_username("ab").is_err());
        assert!(valid_email("ops@example.com").is_ok());
        assert!(valid_email("ops@example").is_err());
        assert!(valid_password("short").is_err());
    }
}
