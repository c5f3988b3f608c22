//! A session's rule state read back from silver, so detection goes on where it stopped: after a restart, after
//! a rebalance brought the session here, or for a session this instance stopped following.
//!
//! Silver holds a row for an event only once that event's alerts are in Kafka (the pipeline publishes a batch's
//! alerts before inserting its rows), so an event found here needs no detection again, and the state is the
//! newest row plus the trailing runs the speed rules count: events above the limit, and en-route events standing
//! still. One query per set of sessions: an `ALL INNER JOIN … USING` of named subqueries (ClickHouse 21+ requires
//! the names, 18.16 takes them) finds where each run starts.

use clickhouse::Client;
use packetpulse_model::GeoPoint;
use uuid::Uuid;

use super::{RestoredSession, Thresholds};
use crate::Error;

/// Session ids per query: well under ClickHouse's 256 KiB `max_query_size`.
const IDS_PER_QUERY: usize = 1_000;

#[derive(Debug, serde::Deserialize, clickhouse::Row)]
struct StoredState {
    session_id: String,
    vehicle_id: String,
    last_ms: u64,
    last_event_id: String,
    last_lat: f64,
    last_lon: f64,
    last_status: String,
    over_since_ms: u64,
    over_top_kmh: f64,
    still_since_ms: u64,
}

/// The state of each of `sessions` (id, partition) that has rows; `None` for one that completed.
pub async fn sessions(
    client: &Client,
    sessions: &[(&str, i32)],
    thresholds: &Thresholds,
) -> Result<Vec<(String, Option<RestoredSession>)>, Error> {
    let mut restored = Vec::new();
    for chunk in sessions.chunks(IDS_PER_QUERY) {
        let placeholders = vec!["?"; chunk.len()].join(", ");
        let ids: Vec<&str> = chunk.iter().map(|(session, _)| *session).collect();
        let partition_of: std::collections::HashMap<&str, i32> = chunk.iter().copied().collect();
        for (session_id, state) in query(client, &placeholders, &ids, thresholds).await? {
            if let Some(&partition) = partition_of.get(session_id.as_str()) {
                let state = state.map(|state| RestoredSession { partition, ..state });
                restored.push((session_id, state));
            }
        }
    }
    Ok(restored)
}

/// The state of every session still open (not completed, no `abandoned` alert, heard from within `lookback` of
/// the newest event) whose partition `partition_of` places among `partitions`.
pub async fn open_sessions_of(
    client: &Client,
    partitions: &[i32],
    partition_of: impl Fn(&str) -> i32,
    thresholds: &Thresholds,
    lookback: std::time::Duration,
) -> Result<Vec<(String, RestoredSession)>, Error> {
    let lookback_ms = u64::try_from(lookback.as_millis()).unwrap_or(u64::MAX);
    let open = format!(
        "SELECT session_id FROM latest_positions FINAL \
         WHERE status != 'completed' \
           AND event_time_ms + {lookback_ms} >= (SELECT max(event_time_ms) FROM latest_positions) \
           AND session_id NOT IN (SELECT session_id FROM alerts WHERE kind = 'abandoned')"
    );
    let found = query(client, &open, &[], thresholds).await?;
    Ok(found
        .into_iter()
        .filter_map(|(session_id, state)| {
            let partition = partition_of(&session_id);
            let state = state.filter(|_| partitions.contains(&partition))?;
            Some((session_id, RestoredSession { partition, ..state }))
        })
        .collect())
}

/// The state of the sessions `filter` (an `IN` list or subquery, binding `ids`) selects, on partition 0;
/// `None` for a completed one.
async fn query(
    client: &Client,
    filter: &str,
    ids: &[&str],
    thresholds: &Thresholds,
) -> Result<Vec<(String, Option<RestoredSession>)>, Error> {
    // `within_limit_ms` and `moving_ms`: the newest event that broke each run (0: none did), so each run starts
    // at the first event after it. A run that reaches the newest event is the one in progress.
    let sql = format!(
        "SELECT session_id, \
                argMax(vehicle_id, event_time_ms) AS vehicle_id, \
                max(event_time_ms) AS last_ms, \
                argMax(event_id, event_time_ms) AS last_event_id, \
                argMax(lat, event_time_ms) AS last_lat, \
                argMax(lon, event_time_ms) AS last_lon, \
                argMax(status, event_time_ms) AS last_status, \
                minIf(event_time_ms, event_time_ms > within_limit_ms) AS over_since_ms, \
                maxIf(speed_kmh, event_time_ms > within_limit_ms) AS over_top_kmh, \
                minIf(event_time_ms, event_time_ms > moving_ms) AS still_since_ms \
         FROM ( \
             SELECT session_id, vehicle_id, event_time_ms, event_id, lat, lon, status, speed_kmh \
             FROM session_movements WHERE session_id IN ({filter}) \
         ) AS movements \
         ALL INNER JOIN ( \
             SELECT session_id, \
                    maxIf(event_time_ms, speed_kmh <= ?) AS within_limit_ms, \
                    maxIf(event_time_ms, NOT (status = 'en_route' AND speed_kmh < ?)) AS moving_ms \
             FROM session_movements WHERE session_id IN ({filter}) GROUP BY session_id \
         ) AS runs USING session_id \
         GROUP BY session_id"
    );
    // Placeholders in text order: the ids of the rows, the two thresholds, the ids of the runs.
    let mut query = client.query(&sql);
    for id in ids {
        query = query.bind(*id);
    }
    query = query.bind(thresholds.overspeed_kmh).bind(thresholds.idle_kmh);
    for id in ids {
        query = query.bind(*id);
    }
    let rows: Vec<StoredState> = query.fetch_all().await.map_err(|source| Error::ClickHouse {
        what: "reading the alert state of sessions".to_owned(),
        source,
    })?;
    Ok(rows
        .into_iter()
        .map(|row| {
            if row.last_status == packetpulse_model::DeliveryStatus::Completed.as_str() {
                return (row.session_id, None);
            }
            let state = RestoredSession {
                vehicle_id: row.vehicle_id,
                partition: 0,
                last_ms: row.last_ms,
                last_event: Uuid::parse_str(&row.last_event_id).unwrap_or_default(),
                last_point: GeoPoint::new(row.last_lat, row.last_lon),
                over_limit: (row.over_since_ms > 0).then_some((row.over_since_ms, row.over_top_kmh)),
                still_since_ms: (row.still_since_ms > 0).then_some(row.still_since_ms),
            };
            (row.session_id, Some(state))
        })
        .collect())
}
