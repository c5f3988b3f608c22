//! Personal API tokens: what scripts and BI tools send as `Authorization: Bearer` on `/api/v1`, instead of a
//! session cookie. A token is 32 random bytes shown once at creation; only its SHA-256 is stored (a token is as
//! random as a key, so a fast hash is enough), with an optional expiry. A token acts as its user, with the
//! user's role, and stops working when it is revoked, expires, or the user is disabled or deleted.

use base64::Engine;
use sha2::{Digest, Sha256};

use super::db::Db;
use super::users::{COLUMNS, User, UserError};
use crate::model::ApiTokenView;
use crate::notice::Notice;
use crate::{db_execute, db_fetch};

/// What every token starts with, so a leaked one is recognisable (e.g. by secret scanners).
pub const PREFIX: &str = "pp_";

#[derive(sqlx::FromRow)]
struct TokenRow {
    id: i64,
    name: String,
    created_at_ms: i64,
    expires_at_ms: Option<i64>,
    last_used_at_ms: Option<i64>,
}

/// The token store (the user database's `api_tokens` table).
#[derive(Clone)]
pub struct ApiTokens {
    db: Db,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// `prefix` and 244 random bits from the operating system (two UUIDv4s), URL-safe: for secrets handed to a user
/// once (API tokens, invitations).
pub(crate) fn secret_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    bytes[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// The SHA-256 of a handed-out secret, as stored.
pub(crate) fn digest(token: &str) -> String {
    let hash = Sha256::digest(token.as_bytes());
    hash.iter().map(|byte| format!("{byte:02x}")).collect()
}

impl ApiTokens {
    /// The tokens of `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Creates a token for user `user_id`, valid for `days` (forever when `None`); returns it, the only time it
    /// is ever shown.
    pub async fn create(&self, user_id: i64, name: &str, days: Option<u32>) -> Result<String, UserError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
            return Err(UserError::Refused(Notice::NameInvalid));
        }
        let token = secret_token(PREFIX);
        let created = now_ms();
        let expires = days.map(|days| created + i64::from(days) * 86_400_000);
        db_execute!(
            &self.db,
            "INSERT INTO api_tokens (user_id, name, token_hash, created_at_ms, expires_at_ms) \
             VALUES ($1, $2, $3, $4, $5)",
            user_id,
            name,
            digest(&token),
            created,
            expires
        )?;
        Ok(token)
    }

    /// The live tokens of user `user_id`, newest first.
    pub async fn list(&self, user_id: i64) -> Result<Vec<ApiTokenView>, UserError> {
        let rows = db_fetch!(
            &self.db,
            fetch_all,
            TokenRow,
            "SELECT id, name, created_at_ms, expires_at_ms, last_used_at_ms FROM api_tokens \
             WHERE user_id = $1 AND NOT revoked AND (expires_at_ms IS NULL OR expires_at_ms > $2) \
             ORDER BY created_at_ms DESC, id DESC",
            user_id,
            now_ms()
        )?;
        Ok(rows
            .into_iter()
            .map(|row| ApiTokenView {
                id: row.id,
                name: row.name,
                created_at_ms: row.created_at_ms,
                expires_at_ms: row.expires_at_ms,
                last_used_at_ms: row.last_used_at_ms,
            })
            .collect())
    }

    /// Revokes token `id` of user `user_id` (another user's token is not found).
    pub async fn revoke(&self, user_id: i64, id: i64) -> Result<(), UserError> {
        let revoked = db_execute!(
            &self.db,
            "UPDATE api_tokens SET revoked = TRUE WHERE id = $1 AND user_id = $2",
            id,
            user_id
        )?;
        if revoked == 0 {
            return Err(UserError::Refused(Notice::Gone));
        }
        Ok(())
    }

    /// The user a presented token acts as: none for an unknown, revoked or expired token, or a disabled user.
    pub async fn user(&self, token: &str) -> Result<Option<User>, UserError> {
        if !token.starts_with(PREFIX) {
            return Ok(None);
        }
        let hash = digest(token);
        let now = now_ms();
        let user = db_fetch!(
            &self.db,
            fetch_optional,
            User,
            &format!(
                "SELECT {COLUMNS} FROM users WHERE NOT disabled AND id = (SELECT user_id FROM api_tokens \
                 WHERE token_hash = $1 AND NOT revoked AND (expires_at_ms IS NULL OR expires_at_ms > $2))"
            ),
            &hash,
            now
        )?;
        if user.is_some() {
            db_execute!(
                &self.db,
                "UPDATE api_tokens SET last_used_at_ms = $1 WHERE token_hash = $2",
                now,
                &hash
            )?;
        }
        Ok(user)
    }
}
