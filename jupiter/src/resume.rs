//! After a restart (crash, deploy, rebalance onto a new instance) the enricher's memory is empty, but the sessions
//! still running have their points in `session_movements`. Loading them before reading lets the first event after
//! the restart be measured from the session's real previous point and keep its real start time, instead of
//! starting the session afresh (distance 0, a too-short `orders.duration_s`).
//!
//! Only streaming resumes; a backfill replays from the first offset and must start empty to compute what
//! streaming computed.

use clickhouse::Client;
use packetpulse_model::GeoPoint;

use crate::Error;
use crate::transform::Enricher;

/// Sessions whose newest event is older than this (before the newest event of all) are not resumed: a session
/// silent for that long is abandoned, not running.
const LOOKBACK_MS: u64 = 60 * 60 * 1_000;

/// Points loaded per session; the enricher keeps no more than this anyway.
const POINTS_PER_SESSION: u64 = 32;

#[derive(Debug, serde::Deserialize, clickhouse::Row)]
struct StoredPoint {
    session_id: String,
    event_time_ms: u64,
    lat: f64,
    lon: f64,
    session_started_at_ms: u64,
}

/// Loads the newest points of every session that has not completed and was heard from within [`LOOKBACK_MS`]
/// into `enricher`. Returns the number of sessions restored.
pub async fn restore_open_sessions(client: &Client, enricher: &mut Enricher) -> Result<usize, Error> {
    // Duplicates of a point (a batch inserted twice) may come back: the enricher records a point once.
    let points: Vec<StoredPoint> = client
        .query(
            "SELECT session_id, event_time_ms, lat, lon, session_started_at_ms FROM session_movements \
             WHERE session_id IN ( \
                 SELECT session_id FROM latest_positions FINAL \
                 WHERE status != 'completed' \
                   AND event_time_ms + ? >= (SELECT max(event_time_ms) FROM latest_positions)) \
             ORDER BY session_id, event_time_ms DESC \
             LIMIT ? BY session_id",
        )
        .bind(LOOKBACK_MS)
        .bind(POINTS_PER_SESSION)
        .fetch_all()
        .await
        .map_err(|source| Error::ClickHouse {
            what: "loading the history of running sessions".to_owned(),
            source,
        })?;
    let mut restored = 0;
    for session in points.chunk_by(|a, b| a.session_id == b.session_id) {
        let started_at_ms = session
            .iter()
            .map(|point| point.session_started_at_ms.min(point.event_time_ms))
            .min()
            .unwrap_or(0);
        let session_id = session[0].session_id.clone();
        enricher.restore(
            session_id,
            started_at_ms,
            session
                .iter()
                .map(|point| (point.event_time_ms, GeoPoint::new(point.lat, point.lon))),
        );
        restored += 1;
    }
    Ok(restored)
}
