//! Invitations: how a user joins while sign-up is closed (the default). An admin creates a one-time link with a
//! role and an expiry; the link's token is shown once and only its SHA-256 is stored. Signing up with it creates
//! the user with that role and uses the invitation up.

use std::time::Duration;

use super::api_tokens::{digest, secret_token};
use super::db::Db;
use super::users::UserError;
use crate::model::Role;
use crate::notice::Notice;
use crate::{db_execute, db_fetch};

/// What an invitation token starts with.
pub const PREFIX: &str = "ppi_";

/// The invitation store (the user database's `invites` table).
#[derive(Clone)]
pub struct Invites {
    db: Db,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Invites {
    /// The invitations of `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
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
        db_execute!(
            &self.db,
            "INSERT INTO invites (token_hash, role, created_by, created_at_ms, expires_at_ms) \
             VALUES ($1, $2, $3, $4, $5)",
            digest(&token),
            role.as_str(),
            created_by,
            now,
            now.saturating_add(valid_ms)
        )?;
        Ok(token)
    }

    /// The role of a usable invitation (not used, not expired), without using it.
    pub async fn role(&self, token: &str) -> Result<Role, UserError> {
        let row = db_fetch!(
            &self.db,
            fetch_optional,
            (String,),
            "SELECT role FROM invites WHERE token_hash = $1 AND used_at_ms IS NULL AND expires_at_ms > $2",
            digest(token),
            now_ms()
        )?;
        row.and_then(|(role,)| Role::parse(&role))
            .ok_or(UserError::Refused(Notice::InviteInvalid))
    }

    /// Makes a used invitation usable again (the sign-up that used it failed afterwards).
    pub async fn release(&self, token: &str) -> Result<(), UserError> {
        db_execute!(
            &self.db,
            "UPDATE invites SET used_at_ms = NULL WHERE token_hash = $1",
            digest(token)
        )?;
        Ok(())
    }

    /// Uses the invitation up; fails when another sign-up used it first.
    pub async fn consume(&self, token: &str) -> Result<(), UserError> {
        let now = now_ms();
        let used = db_execute!(
            &self.db,
            "UPDATE invites SET used_at_ms = $1 WHERE token_hash = $2 AND used_at_ms IS NULL AND expires_at_ms > $3",
            now,
            digest(token),
            now
        )?;
        if used == 1 {
            Ok(())
        } else {
            Err(UserError::Refused(Notice::InviteInvalid))
        }
    }
}
