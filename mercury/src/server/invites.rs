//! Invitations: how a user joins while sign-up is closed (the default). An admin creates a one-time link with a
//! role and an expiry; the link's token is shown once and only its SHA-256 is stored. Signing up with it creates
//! the user with that role and uses the invitation up.

use std::time::Duration;

use sqlx::sqlite::SqlitePool;

use super::api_tokens::{digest, secret_token};
use super::users::UserError;
use crate::model::Role;
use crate::notice::Notice;

/// What an invitation token starts with.
pub const PREFIX: &str = "ppi_";

/// The invitation store (the user database's `invites` table).
#[derive(Clone)]
pub struct Invites {
    pool: SqlitePool,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Invites {
    /// The invitations of the database behind `pool`.
    pub fn new(pool: SqlitePool) -> Self {
        Self { pool }
    }

    /// A new invitation to join as `role`, created by user `created_by`, valid for `valid_for`; returns its
    /// token, the only time it is shown.
    pub async fn create(
        &self,
        role: Role,
        created_by: i64,
        valid_for: Duration,
    ) -> Result<String, UserError> {
        let token = secret_token(PREFIX);
        let now = now_ms();
        let valid_ms = i64::try_from(valid_for.as_millis()).unwrap_or(i64::MAX);
        sqlx::query(
            "INSERT INTO invites (token_hash, role, created_by, created_at_ms, expires_at_ms) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(digest(&token))
        .bind(role.as_str())
        .bind(created_by)
        .bind(now)
        .bind(now.saturating_add(valid_ms))
        .execute(&self.pool)
        .await?;
        Ok(token)
    }

    /// The role of a usable invitation (not used, not expired), without using it.
    pub async fn role(&self, token: &str) -> Result<Role, UserError> {
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT role FROM invites WHERE token_hash = ? AND used_at_ms IS NULL AND expires_at_ms > ?",
        )
        .bind(digest(token))
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await?;
        row.and_then(|(role,)| Role::parse(&role))
            .ok_or(UserError::Refused(Notice::InviteInvalid))
    }

    /// Makes a used invitation usable again (the sign-up that used it failed afterwards).
    pub async fn release(&self, token: &str) -> Result<(), UserError> {
        sqlx::query("UPDATE invites SET used_at_ms = NULL WHERE token_hash = ?")
            .bind(digest(token))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Uses the invitation up; fails when another sign-up used it first.
    pub async fn consume(&self, token: &str) -> Result<(), UserError> {
        let used = sqlx::query(
            "UPDATE invites SET used_at_ms = ? WHERE token_hash = ? AND used_at_ms IS NULL AND expires_at_ms > ?",
        )
        .bind(now_ms())
        .bind(digest(token))
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        if used.rows_affected() == 1 {
            Ok(())
        } else {
            Err(UserError::Refused(Notice::InviteInvalid))
        }
    }
}
