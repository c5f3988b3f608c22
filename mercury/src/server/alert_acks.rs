//! Acknowledged alerts: the alerts are Jupiter's (silver `alerts` in ClickHouse); which of them a dispatcher has
//! acknowledged, by whom and when, is Mercury's, in the user database (`alert_acks`). Each row keeps the alert's
//! own time, so a page over a time range reads only that range's acknowledgements.

use std::collections::HashMap;

use super::db::Db;
use super::users::UserError;
use crate::{db_execute, db_fetch};

/// Acknowledgements a page may consider at once (their ids travel in the ClickHouse query, which takes 256 KiB):
/// past this, the time range must be narrowed.
pub const MAX_PER_RANGE: i64 = 5_000;

/// Who acknowledged an alert and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acknowledgement {
    /// The user's name (empty once the user was deleted).
    pub by: String,
    /// Epoch ms.
    pub at_ms: u64,
}

/// The acknowledgement store.
#[derive(Clone)]
pub struct AlertAcks {
    db: Db,
}

impl AlertAcks {
    /// The store in `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Records that `user_id` acknowledged `alert_id` (which happened at `alert_at_ms`); false when it was
    /// acknowledged already (the first acknowledgement stands).
    pub async fn acknowledge(
        &self,
        alert_id: &str,
        alert_at_ms: u64,
        user_id: i64,
    ) -> Result<bool, UserError> {
        let added = db_execute!(
            &self.db,
            "INSERT INTO alert_acks (alert_id, alert_at_ms, user_id, acknowledged_at_ms) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (alert_id) DO NOTHING",
            alert_id,
            i64::try_from(alert_at_ms).unwrap_or(i64::MAX),
            user_id,
            chrono::Utc::now().timestamp_millis()
        )?;
        Ok(added > 0)
    }

    /// The acknowledgements of alerts that happened in `[from_ms, to_ms]`, by alert id; `None` when there are
    /// more than [`MAX_PER_RANGE`].
    pub async fn in_range(
        &self,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<Option<HashMap<String, Acknowledgement>>, UserError> {
        let ms = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
        let rows = db_fetch!(
            &self.db,
            fetch_all,
            (String, Option<String>, i64),
            "SELECT a.alert_id, u.username, a.acknowledged_at_ms FROM alert_acks a \
             LEFT JOIN users u ON u.id = a.user_id \
             WHERE a.alert_at_ms >= $1 AND a.alert_at_ms <= $2 LIMIT $3",
            ms(from_ms),
            ms(to_ms),
            MAX_PER_RANGE + 1
        )?;
        if rows.len() > usize::try_from(MAX_PER_RANGE).unwrap_or(usize::MAX) {
            return Ok(None);
        }
        Ok(Some(
            rows.into_iter()
                .map(|(alert_id, by, at_ms)| {
                    let acknowledgement = Acknowledgement {
                        by: by.unwrap_or_default(),
                        at_ms: u64::try_from(at_ms).unwrap_or(0),
                    };
                    (alert_id, acknowledgement)
                })
                .collect(),
        ))
    }
}
