//! A session's lifecycle only moves forward: one start, one completion, nothing after the completion. A device
//! that replays an old session id, or a simulator restarted with the same ids, would otherwise reopen a finished
//! delivery (a second `started`, positions after `completed`): its public page would show it en route again and
//! gold would mix two trips. Such events are kept out of silver and dead-lettered with the reason; bronze keeps
//! them, as it keeps every raw event.
//!
//! Late and resent events of the trip itself still pass: an event stamped before the completion, and any event
//! whose id is the very start or completion already recorded (a duplicate collapses in silver anyway).
//!
//! What Jupiter remembers of a session is bounded (`transform::COMPLETED_RETENTION_OFFSETS`); for a session it
//! holds nothing about, the start and completion are read back from `session_movements` ([`lookup`]) before its
//! events are admitted, so the rule holds after a restart or long after the trip.

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat};
use clickhouse::Client;
use packetpulse_model::{DeadLetter, DeliveryStatus, PublishedEvent};

use crate::Error;
use crate::retry::Backoff;
use crate::transform::{Enricher, Movement, Position, STORED_POINTS, StoredPoint, StoredSession, epoch_ms};
use packetpulse_ops::Health;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Session ids per lookup query: well under ClickHouse's 256 KiB `max_query_size`.
const IDS_PER_LOOKUP: usize = 1_000;

/// One recorded step of a session: when, and which event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    /// Event time, epoch ms.
    pub time_ms: u64,
    /// The event's id (hyphenated).
    pub event_id: String,
}

/// The start and completion seen for one session.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lifecycle {
    /// The `started` event.
    pub started: Option<Mark>,
    /// The `completed` event.
    pub completed: Option<Mark>,
}

impl Lifecycle {
    /// Why `event` may not join this session (it would reopen or restart it), or `None`.
    pub fn refusal(&self, event: &PublishedEvent) -> Option<String> {
        let id = event.event_id.hyphenated().to_string();
        let time_ms = epoch_ms(&event.event.timestamp);
        let session = &event.event.session_id;
        if let Some(completed) = &self.completed
            && completed.event_id != id
        {
            if event.event.status == DeliveryStatus::Completed {
                return Some(format!(
                    "session {session:?} already completed at {} (event {}): a second completion is refused",
                    time(completed.time_ms),
                    completed.event_id
                ));
            }
            if time_ms > completed.time_ms {
                return Some(format!(
                    "session {session:?} completed at {} (event {}): an event after its completion would reopen it",
                    time(completed.time_ms),
                    completed.event_id
                ));
            }
        }
        if let Some(started) = &self.started
            && event.event.status == DeliveryStatus::Started
            && started.event_id != id
        {
            return Some(format!(
                "session {session:?} already started at {} (event {}): a second start would put another trip \
                 under the same session id",
                time(started.time_ms),
                started.event_id
            ));
        }
        None
    }

    /// Records an admitted row (`status` as silver spells it).
    pub fn record(&mut self, status: &str, time_ms: u64, event_id: &str) {
        let mark = || Mark {
            time_ms,
            event_id: event_id.to_owned(),
        };
        if status == DeliveryStatus::Started.as_str() && self.started.is_none() {
            self.started = Some(mark());
        } else if status == DeliveryStatus::Completed.as_str() && self.completed.is_none() {
            self.completed = Some(mark());
        }
    }
}

#[derive(Debug, serde::Deserialize, clickhouse::Row)]
struct StoredLifecycle {
    session_id: String,
    starts: u64,
    started_ms: u64,
    started_id: String,
    completions: u64,
    completed_ms: u64,
    completed_id: String,
    first_ms: u64,
}

#[derive(Debug, serde::Deserialize, clickhouse::Row)]
struct StoredRow {
    session_id: String,
    event_id: String,
    event_time_ms: u64,
    lat: f64,
    lon: f64,
}

/// What silver holds of one session: its lifecycle, and its start and newest rows.
#[derive(Debug, Clone)]
pub struct Found {
    /// Start and completion.
    pub lifecycle: Lifecycle,
    /// Start time and newest rows.
    pub stored: StoredSession,
}

/// Splits `events` (read in this order) into enriched rows and dead letters: first the lifecycle of every session
/// `enricher` holds nothing about is read from silver (waiting out ClickHouse trouble with `backoff`), then each
/// event is admitted or refused in order.
pub async fn admit(
    client: &Client,
    enricher: &mut Enricher,
    events: Vec<(PublishedEvent, Position)>,
    backoff: &mut Backoff,
) -> Result<(Vec<Movement>, Vec<DeadLetter>), Error> {
    // Each unknown session with the partition it is read from (a session lives on one partition).
    let mut unknown: Vec<(&str, i32)> = events
        .iter()
        .map(|(event, position)| (event.event.session_id.as_str(), position.partition))
        .filter(|(session, _)| !enricher.knows(session))
        .collect();
    unknown.sort_unstable();
    unknown.dedup_by_key(|(session, _)| *session);
    if !unknown.is_empty() {
        let sessions: Vec<&str> = unknown.iter().map(|(session, _)| *session).collect();
        let mut found = lookup_with_retry(client, &sessions, backoff).await?;
        for (session, partition) in unknown {
            match found.remove(session) {
                Some(found) => enricher.adopt(session, partition, found.lifecycle, Some(found.stored)),
                None => enricher.adopt(session, partition, Lifecycle::default(), None),
            }
        }
    }
    let ingested_at_ms = crate::sink::now_ms();
    let mut rows = Vec::with_capacity(events.len());
    let mut refused = Vec::new();
    for (event, position) in events {
        if enricher.take_copy(&event) {
            continue;
        }
        match enricher.refusal(&event) {
            None => rows.push(enricher.enrich(event, position, ingested_at_ms)),
            Some(reason) => {
                tracing::warn!(%reason, event_id = %event.event_id, "refusing an event that would reopen its session");
                refused.push(DeadLetter::for_unreadable_message(
                    event.to_json().as_bytes(),
                    reason,
                    "jupiter",
                    position.partition,
                    position.offset,
                ));
            }
        }
    }
    Ok((rows, refused))
}

/// The retry state of lifecycle lookups, reported to `health` as "lifecycle lookup".
pub fn lookup_backoff(health: Health, shutdown: CancellationToken, timeout: Duration) -> Backoff {
    Backoff::new(
        "lifecycle lookup",
        "reading session lifecycles from ClickHouse",
        health,
        shutdown,
        timeout,
    )
}

async fn lookup_with_retry(
    client: &Client,
    sessions: &[&str],
    backoff: &mut Backoff,
) -> Result<HashMap<String, Found>, Error> {
    backoff.retry(|| lookup(client, sessions)).await
}

/// What silver holds for each of `sessions` that has rows: the earliest start, the latest completion, the first
/// event time and the newest [`STORED_POINTS`] rows.
pub async fn lookup(client: &Client, sessions: &[&str]) -> Result<HashMap<String, Found>, Error> {
    let mut found = HashMap::new();
    for chunk in sessions.chunks(IDS_PER_LOOKUP) {
        let placeholders = vec!["?"; chunk.len()].join(", ");
        let sql = format!(
            "SELECT session_id, countIf(status = 'started') AS starts, \
                    minIf(event_time_ms, status = 'started') AS started_ms, \
                    argMinIf(event_id, event_time_ms, status = 'started') AS started_id, \
                    countIf(status = 'completed') AS completions, \
                    maxIf(event_time_ms, status = 'completed') AS completed_ms, \
                    argMaxIf(event_id, event_time_ms, status = 'completed') AS completed_id, \
                    min(session_started_at_ms) AS first_ms \
             FROM session_movements WHERE session_id IN ({placeholders}) GROUP BY session_id"
        );
        let mut query = client.query(&sql);
        for session in chunk {
            query = query.bind(*session);
        }
        let rows: Vec<StoredLifecycle> = query.fetch_all().await.map_err(|source| Error::ClickHouse {
            what: "reading the lifecycle of sessions".to_owned(),
            source,
        })?;
        let mut points = newest_rows(client, chunk, &placeholders).await?;
        for row in rows {
            let mark = |count: u64, time_ms, event_id| (count > 0).then_some(Mark { time_ms, event_id });
            let stored_points = points.remove(&row.session_id).unwrap_or_default();
            found.insert(
                row.session_id,
                Found {
                    lifecycle: Lifecycle {
                        started: mark(row.starts, row.started_ms, row.started_id),
                        completed: mark(row.completions, row.completed_ms, row.completed_id),
                    },
                    stored: StoredSession {
                        started_at_ms: row.first_ms,
                        points: stored_points,
                    },
                },
            );
        }
    }
    Ok(found)
}

/// The newest [`STORED_POINTS`] rows of each of `sessions` (a row inserted twice and not merged yet may count
/// twice: fewer distinct rows, never a wrong one).
async fn newest_rows(
    client: &Client,
    sessions: &[&str],
    placeholders: &str,
) -> Result<HashMap<String, Vec<StoredPoint>>, Error> {
    let sql = format!(
        "SELECT session_id, event_id, event_time_ms, lat, lon FROM session_movements \
         WHERE session_id IN ({placeholders}) \
         ORDER BY session_id, event_time_ms DESC LIMIT {STORED_POINTS} BY session_id"
    );
    let mut query = client.query(&sql);
    for session in sessions {
        query = query.bind(*session);
    }
    let rows: Vec<StoredRow> = query.fetch_all().await.map_err(|source| Error::ClickHouse {
        what: "reading the newest rows of sessions".to_owned(),
        source,
    })?;
    let mut points: HashMap<String, Vec<StoredPoint>> = HashMap::new();
    for row in rows {
        // Ids Jupiter wrote are UUIDs; anything else cannot be a copy of an event read from Kafka.
        let event_id = uuid::Uuid::parse_str(&row.event_id).map_or(0, |id| id.as_u128());
        points.entry(row.session_id).or_default().push(StoredPoint {
            time_ms: row.event_time_ms,
            point: packetpulse_model::GeoPoint::new(row.lat, row.lon),
            event_id,
        });
    }
    Ok(points)
}

fn time(ms: u64) -> String {
    DateTime::from_timestamp_millis(i64::try_from(ms).unwrap_or(i64::MAX)).map_or_else(
        || format!("{ms} ms"),
        |t| t.to_rfc3339_opts(SecondsFormat::Millis, true),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::{TimeZone, Utc};
    use packetpulse_model::{DeliveryEvent, testing};
    use uuid::Uuid;

    use super::*;

    fn event(id: u128, minute: i64, status: DeliveryStatus) -> PublishedEvent {
        PublishedEvent {
            event_id: Uuid::from_u128(id),
            ..testing::published(DeliveryEvent {
                session_id: "s-1".into(),
                status,
                timestamp: Utc.with_ymd_and_hms(2026, 11, 30, 8, 0, 0).unwrap()
                    + chrono::Duration::minutes(minute),
                ..testing::event()
            })
        }
    }

    fn admit(lifecycle: &mut Lifecycle, event: &PublishedEvent) -> Option<String> {
        let refusal = lifecycle.refusal(event);
        if refusal.is_none() {
            let id = event.event_id.hyphenated().to_string();
            lifecycle.record(event.event.status.as_str(), epoch_ms(&event.event.timestamp), &id);
        }
        refusal
    }

    #[test]
    fn a_trip_and_its_late_and_resent_events_pass() {
        let mut lifecycle = Lifecycle::default();
        assert_eq!(admit(&mut lifecycle, &event(1, 0, DeliveryStatus::Started)), None);
        assert_eq!(
            admit(&mut lifecycle, &event(3, 10, DeliveryStatus::Completed)),
            None
        );
        // Late: stamped before the completion. Resent: the same start and completion again.
        assert_eq!(admit(&mut lifecycle, &event(2, 5, DeliveryStatus::EnRoute)), None);
        assert_eq!(admit(&mut lifecycle, &event(1, 0, DeliveryStatus::Started)), None);
        assert_eq!(
            admit(&mut lifecycle, &event(3, 10, DeliveryStatus::Completed)),
            None
        );
    }

    #[test]
    fn nothing_reopens_or_restarts_a_session() {
        let mut lifecycle = Lifecycle::default();
        admit(&mut lifecycle, &event(1, 0, DeliveryStatus::Started));
        let second_start = admit(&mut lifecycle, &event(9, 1, DeliveryStatus::Started)).unwrap();
        assert!(
            second_start.starts_with(
                "session \"s-1\" already started at 2026-11-30T08:00:00.000Z (event 00000000-0000-0000-0000-000000000001)"
            ),
            "{second_start}"
        );
        admit(&mut lifecycle, &event(3, 10, DeliveryStatus::Completed));
        let after = admit(&mut lifecycle, &event(10, 11, DeliveryStatus::EnRoute)).unwrap();
        assert!(
            after.ends_with("an event after its completion would reopen it"),
            "{after}"
        );
        let again = admit(&mut lifecycle, &event(11, 12, DeliveryStatus::Completed)).unwrap();
        assert!(again.ends_with("a second completion is refused"), "{again}");
        // What silver holds is unchanged by the refusals.
        assert_eq!(lifecycle.started.as_ref().unwrap().time_ms % 1000, 0);
        assert_eq!(
            lifecycle.completed.unwrap().event_id,
            Uuid::from_u128(3).hyphenated().to_string()
        );
    }
}
