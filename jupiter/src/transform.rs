//! The transform: a published event becomes a `session_movements` row, enriched with what needs the session's
//! history — distance from the previous point, a speed when the device sent none, the session's start, and a
//! flag on points the vehicle could not have reached (never dropped). The same code serves streaming and the
//! backfill from bronze, so silver can always be recomputed from the lake.
//!
//! "Previous point" means previous by event time, not by arrival: an event that arrives late is measured from
//! the newest point before it that Jupiter has seen, so out-of-order delivery does not invent detours.

use std::collections::{HashMap, VecDeque};

use packetpulse_model::geo::haversine_m;
use packetpulse_model::{DeliveryStatus, GeoPoint, PublishedEvent};
use serde::Serialize;

use crate::lifecycle::Lifecycle;

/// Points kept per session to place late events; older ones are measured from nothing (distance 0).
const HISTORY: usize = 32;

/// Event ids kept per session to recognise copies.
const RECENT_IDS: usize = 64;

/// A completed session's history is kept until its partition has moved this many offsets past the completion, so
/// late and resent events of a finished session are still measured against its track. Counting offsets, not time
/// or batches, makes streaming and the backfill from bronze (which replays the same offsets) forget at the same
/// point and so compute the same rows.
pub const COMPLETED_RETENTION_OFFSETS: i64 = 100_000;

/// A session not heard from for this long (event time, against the newest event of its partition) is forgotten
/// unless configured otherwise (`JUPITER_SESSION_IDLE_TIMEOUT`).
pub const DEFAULT_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30 * 60);

/// Two fixes this close in time are too close to derive a speed from.
const MIN_DERIVATION_INTERVAL_MS: u64 = 200;

/// One row of `session_movements` (column order as in the migration).
#[derive(Debug, Clone, PartialEq, Serialize, clickhouse::Row)]
pub struct Movement {
    /// Event id (UUID, hyphenated).
    pub event_id: String,
    /// Session id.
    pub session_id: String,
    /// Vehicle id.
    pub vehicle_id: String,
    /// Order id.
    pub order_id: String,
    /// Device id.
    pub device_id: String,
    /// `started`, `en_route` or `completed`.
    pub status: &'static str,
    /// Event time, seconds (`DateTime('UTC')`).
    pub event_time: u32,
    /// Event time, epoch milliseconds.
    pub event_time_ms: u64,
    /// Position.
    pub lat: f64,
    /// Position.
    pub lon: f64,
    /// Pick-up.
    pub start_lat: f64,
    /// Pick-up.
    pub start_lon: f64,
    /// Drop-off.
    pub end_lat: f64,
    /// Drop-off.
    pub end_lon: f64,
    /// The device's speed, or one derived from the previous point when it sent none.
    pub speed_kmh: f64,
    /// 1 when `speed_kmh` was derived.
    pub speed_derived: u8,
    /// Direction of travel.
    pub heading_deg: Option<f64>,
    /// Metres from the previous point by event time (0 for the first).
    pub distance_from_previous_m: f64,
    /// 1 when reaching this point from the previous one needs more than the configured top speed.
    pub suspect_teleport: u8,
    /// Earliest event time seen for the session, epoch ms.
    pub session_started_at_ms: u64,
    /// Route name, empty when unknown.
    pub route_name: String,
    /// Route points, 0 when unknown.
    pub waypoint_count: u32,
    /// Sender's per-session counter.
    pub seq: Option<u64>,
    /// When Venus received it, seconds.
    pub received_at: u32,
    /// When Venus received it, epoch ms.
    pub received_at_ms: u64,
    /// When Jupiter wrote it, seconds.
    pub ingested_at: u32,
    /// When Jupiter wrote it, epoch ms (the dedup version: the newest copy wins).
    pub ingested_at_ms: u64,
}

/// What silver holds of a session the enricher holds nothing about (forgotten, from before a restart, or on a
/// partition gained in a rebalance): when it started, and its newest rows.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSession {
    /// Earliest event time, epoch ms.
    pub started_at_ms: u64,
    /// Its newest rows, in any order: enough to place a re-read event ([`HISTORY`] points) and recognise one
    /// already in silver ([`RECENT_IDS`] ids).
    pub points: Vec<StoredPoint>,
}

/// One row of a session in silver.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StoredPoint {
    /// Event time, epoch ms.
    pub time_ms: u64,
    /// Position.
    pub point: GeoPoint,
    /// Event id.
    pub event_id: u128,
}

/// Rows per session read back from silver: as many as the ids a session keeps.
pub const STORED_POINTS: usize = RECENT_IDS;

/// Where a message was read from Kafka (for the backfill: the position bronze recorded).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Position {
    /// Partition.
    pub partition: i32,
    /// Offset in the partition.
    pub offset: i64,
}

#[derive(Debug, Clone, Copy)]
struct Fix {
    time_ms: u64,
    point: GeoPoint,
}

#[derive(Debug, Default)]
struct SessionHistory {
    started_at_ms: u64,
    /// Newest event time seen, epoch ms (what idleness is measured from).
    last_seen_ms: u64,
    /// Whether the session has an entry in its partition's idle queue.
    queued: bool,
    /// Ids of the session's newest events, to recognise a copy (see [`Enricher::take_copy`]).
    recent_ids: VecDeque<u128>,
    /// Newest fixes, sorted by time.
    fixes: VecDeque<Fix>,
    /// Its start and completion, once known (see `lifecycle`).
    lifecycle: Lifecycle,
    /// Whether `lifecycle` is all there is: false for a session restored with its points only.
    lifecycle_known: bool,
    /// The partition its events come from; `None` until one is read here (restored at start).
    partition: Option<i32>,
}

impl SessionHistory {
    /// The newest fix strictly before `time_ms`, then records this one.
    fn previous_and_record(&mut self, fix: Fix) -> Option<Fix> {
        let position = self.fixes.partition_point(|known| known.time_ms < fix.time_ms);
        let previous = position.checked_sub(1).map(|index| self.fixes[index]);
        let duplicate = self
            .fixes
            .get(position)
            .is_some_and(|known| known.time_ms == fix.time_ms && known.point == fix.point);
        if !duplicate {
            self.fixes.insert(position, fix);
            if self.fixes.len() > HISTORY {
                self.fixes.pop_front();
            }
        }
        previous
    }

    fn remember_id(&mut self, id: u128) {
        self.recent_ids.push_back(id);
        if self.recent_ids.len() > RECENT_IDS {
            self.recent_ids.pop_front();
        }
    }
}

fn seconds(ms: u64) -> u32 {
    u32::try_from(ms / 1_000).unwrap_or(u32::MAX)
}

pub(crate) fn epoch_ms(time: &chrono::DateTime<chrono::Utc>) -> u64 {
    u64::try_from(time.timestamp_millis()).unwrap_or(0)
}

/// Per partition: the newest event time seen, and sessions in roughly the order they were last heard from (an
/// entry per session; an entry found stale is re-queued with the session's newest time, so the queue stays
/// nearly ordered and a session is evicted at most one idle timeout late).
#[derive(Debug, Default)]
struct IdleQueue {
    newest_ms: u64,
    sessions: VecDeque<(u64, String)>,
}

/// Enriches events with their session's history. One per consumer: sessions are keyed to partitions, so a
/// session's events all pass through the same instance.
///
/// Memory is bounded: a completed session is forgotten [`COMPLETED_RETENTION_OFFSETS`] after its completion, and
/// any session not heard from for `idle_timeout` of event time (measured against the newest event of its
/// partition, so streaming and the backfill evict alike) is forgotten too. A forgotten session that comes back
/// has its start, lifecycle and newest point read back from silver ([`crate::lifecycle`]).
#[derive(Debug)]
pub struct Enricher {
    max_speed_kmh: f64,
    idle_timeout_ms: u64,
    sessions: HashMap<String, SessionHistory>,
    /// Per partition: completed sessions in offset order, waiting for [`COMPLETED_RETENTION_OFFSETS`] to pass.
    completed: HashMap<i32, VecDeque<(i64, String)>>,
    idle: HashMap<i32, IdleQueue>,
    evicted_idle: u64,
    copies_dropped: u64,
}

impl Enricher {
    /// An enricher flagging points that need more than `max_speed_kmh` to reach, forgetting sessions idle for
    /// longer than [`DEFAULT_IDLE_TIMEOUT`].
    pub fn new(max_speed_kmh: f64) -> Self {
        Self {
            max_speed_kmh,
            idle_timeout_ms: u64::try_from(DEFAULT_IDLE_TIMEOUT.as_millis()).unwrap_or(u64::MAX),
            sessions: HashMap::new(),
            completed: HashMap::new(),
            idle: HashMap::new(),
            evicted_idle: 0,
            copies_dropped: 0,
        }
    }

    /// Forgets sessions idle (by event time) for longer than `idle_timeout` instead.
    pub fn with_idle_timeout(mut self, idle_timeout: std::time::Duration) -> Self {
        self.idle_timeout_ms = u64::try_from(idle_timeout.as_millis()).unwrap_or(u64::MAX);
        self
    }

    /// Whether `event` is a copy of one this enricher already turned into a row (same id, among its session's
    /// newest [`RECENT_IDS`]), counting it if so. A copy is not enriched again: measured later, with more of the
    /// track known, it could come out different from the first, and silver keeps the newest copy while bronze
    /// (and so a backfill) keeps the first.
    pub fn take_copy(&mut self, event: &PublishedEvent) -> bool {
        let id = event.event_id.as_u128();
        let copy = self
            .sessions
            .get(&event.event.session_id)
            .is_some_and(|history| history.recent_ids.contains(&id));
        self.copies_dropped += u64::from(copy);
        copy
    }

    /// Copies recognised so far (see [`Enricher::take_copy`]).
    pub fn copies_dropped(&self) -> u64 {
        self.copies_dropped
    }

    /// Sessions forgotten so far for being idle.
    pub fn evicted_idle(&self) -> u64 {
        self.evicted_idle
    }

    /// Sessions with history in memory.
    pub fn sessions(&self) -> usize {
        self.sessions.len()
    }

    /// Gives a session the history it had before a restart: its start and its newest points (in any order, at
    /// most [`HISTORY`] are kept). Ignored for a session that already has history here.
    pub fn restore(
        &mut self,
        session_id: String,
        started_at_ms: u64,
        points: impl IntoIterator<Item = (u64, GeoPoint)>,
    ) {
        let std::collections::hash_map::Entry::Vacant(vacant) = self.sessions.entry(session_id) else {
            return;
        };
        let history = vacant.insert(SessionHistory {
            started_at_ms,
            ..SessionHistory::default()
        });
        for (time_ms, point) in points {
            history.previous_and_record(Fix { time_ms, point });
        }
    }

    /// Whether the session's start and completion, if any, are known here (otherwise read them from silver and
    /// [`Enricher::adopt`] them before admitting its events).
    pub fn knows(&self, session_id: &str) -> bool {
        self.sessions
            .get(session_id)
            .is_some_and(|history| history.lifecycle_known)
    }

    /// Takes what silver knows of a session read from `partition`: its start and completion, and its start time
    /// and newest rows when it has rows there. The rows' ids make a re-read event that silver already holds a
    /// copy (not enriched again); their points place the ones it does not.
    pub fn adopt(
        &mut self,
        session_id: &str,
        partition: i32,
        lifecycle: Lifecycle,
        stored: Option<StoredSession>,
    ) {
        let history = self
            .sessions
            .entry(session_id.to_owned())
            .or_insert_with(|| SessionHistory {
                started_at_ms: u64::MAX,
                ..SessionHistory::default()
            });
        if let Some(started) = &lifecycle.started {
            history.started_at_ms = history.started_at_ms.min(started.time_ms);
        }
        if let Some(mut stored) = stored {
            history.started_at_ms = history.started_at_ms.min(stored.started_at_ms);
            stored.points.sort_by_key(|stored| stored.time_ms);
            for stored in stored.points {
                history.previous_and_record(Fix {
                    time_ms: stored.time_ms,
                    point: stored.point,
                });
                if !history.recent_ids.contains(&stored.event_id) {
                    history.remember_id(stored.event_id);
                }
            }
        }
        history.lifecycle = lifecycle;
        history.lifecycle_known = true;
        history.partition = Some(partition);
    }

    /// Forgets every session of `partitions` (taken from this instance by a rebalance) and every session not yet
    /// tied to a partition; returns how many. Another instance goes on with them, so what is held here would be
    /// stale if they came back: they are read back from silver then, like any session not held.
    pub fn forget_partitions(&mut self, partitions: &[i32]) -> usize {
        let before = self.sessions.len();
        self.sessions.retain(|_, history| {
            history
                .partition
                .is_some_and(|partition| !partitions.contains(&partition))
        });
        for partition in partitions {
            self.completed.remove(partition);
            self.idle.remove(partition);
        }
        before - self.sessions.len()
    }

    /// The partition the session's events come from, once one was read here.
    pub fn partition_of(&self, session_id: &str) -> Option<i32> {
        self.sessions
            .get(session_id)
            .and_then(|history| history.partition)
    }

    /// Whether the session's completion is known here: nothing after it raises an alert.
    pub fn is_completed(&self, session_id: &str) -> bool {
        self.sessions
            .get(session_id)
            .is_some_and(|history| history.lifecycle.completed.is_some())
    }

    /// Why `event` may not join its session (it would reopen or restart it), or `None`.
    pub fn refusal(&self, event: &PublishedEvent) -> Option<String> {
        self.sessions
            .get(&event.event.session_id)
            .and_then(|history| history.lifecycle.refusal(event))
    }

    /// The `session_movements` row of `published`, read at `position` and written at `ingested_at_ms`.
    pub fn enrich(&mut self, published: PublishedEvent, position: Position, ingested_at_ms: u64) -> Movement {
        let movement = self.movement(published, ingested_at_ms);
        if let Some(history) = self.sessions.get_mut(&movement.session_id) {
            history
                .lifecycle
                .record(movement.status, movement.event_time_ms, &movement.event_id);
            history.partition = Some(position.partition);
        }
        if movement.status == DeliveryStatus::Completed.as_str() {
            self.completed
                .entry(position.partition)
                .or_default()
                .push_back((position.offset, movement.session_id.clone()));
        }
        self.forget_completed(position);
        self.note_heard(&movement.session_id, movement.event_time_ms, position.partition);
        movement
    }

    /// Records that `session` was heard from at `time_ms` in `partition`, then forgets that partition's sessions
    /// idle for longer than the timeout.
    fn note_heard(&mut self, session: &str, time_ms: u64, partition: i32) {
        let queue = self.idle.entry(partition).or_default();
        queue.newest_ms = queue.newest_ms.max(time_ms);
        if let Some(history) = self.sessions.get_mut(session) {
            history.last_seen_ms = history.last_seen_ms.max(time_ms);
            if !history.queued {
                history.queued = true;
                queue
                    .sessions
                    .push_back((history.last_seen_ms, session.to_owned()));
            }
        }
        let horizon = queue.newest_ms.saturating_sub(self.idle_timeout_ms);
        while let Some((queued_ms, _)) = queue.sessions.front()
            && *queued_ms < horizon
        {
            let Some((_, session)) = queue.sessions.pop_front() else {
                break;
            };
            let Some(history) = self.sessions.get_mut(&session) else {
                continue;
            };
            if history.last_seen_ms < horizon {
                self.sessions.remove(&session);
                self.evicted_idle += 1;
            } else {
                queue.sessions.push_back((history.last_seen_ms, session));
            }
        }
    }

    /// Drops the history of sessions of `position`'s partition that completed long enough before it.
    fn forget_completed(&mut self, position: Position) {
        let Some(queue) = self.completed.get_mut(&position.partition) else {
            return;
        };
        while let Some((completed_at, _)) = queue.front()
            && completed_at.saturating_add(COMPLETED_RETENTION_OFFSETS) <= position.offset
        {
            if let Some((_, session)) = queue.pop_front() {
                self.sessions.remove(&session);
            }
        }
    }

    /// Takes the event by value: its strings move into the row instead of being copied (this is the hot path).
    fn movement(&mut self, published: PublishedEvent, ingested_at_ms: u64) -> Movement {
        let PublishedEvent {
            event_id,
            event,
            received_at,
        } = published;
        let time_ms = epoch_ms(&event.timestamp);
        // Look up before inserting, so the session id is copied only for a new session.
        if !self.sessions.contains_key(&event.session_id) {
            self.sessions.insert(
                event.session_id.clone(),
                SessionHistory {
                    started_at_ms: time_ms,
                    lifecycle_known: true,
                    ..SessionHistory::default()
                },
            );
        }
        let Some(history) = self.sessions.get_mut(&event.session_id) else {
            unreachable!("inserted above");
        };
        history.started_at_ms = history.started_at_ms.min(time_ms);
        history.remember_id(event_id.as_u128());
        let current = event.current();
        let previous = history.previous_and_record(Fix {
            time_ms,
            point: current,
        });
        let session_started_at_ms = history.started_at_ms;
        let distance = previous.map_or(0.0, |previous| haversine_m(previous.point, current));
        let elapsed_ms = previous.map_or(0, |previous| time_ms - previous.time_ms);
        let implied_kmh =
            (elapsed_ms >= MIN_DERIVATION_INTERVAL_MS).then(|| distance / elapsed_ms as f64 * 3_600.0);
        let suspect_teleport = match implied_kmh {
            Some(kmh) => kmh > self.max_speed_kmh,
            // Two fixes at (almost) the same instant more than a street apart.
            None => previous.is_some() && distance > 50.0,
        };
        let (speed_kmh, speed_derived) = match event.speed_kmh {
            Some(speed) => (speed, 0),
            None => (implied_kmh.unwrap_or(0.0), 1),
        };
        let received_at_ms = epoch_ms(&received_at);
        Movement {
            event_id: event_id.hyphenated().to_string(),
            session_id: event.session_id,
            vehicle_id: event.vehicle_id,
            order_id: event.order_id,
            device_id: event.device_id,
            status: event.status.as_str(),
            event_time: seconds(time_ms),
            event_time_ms: time_ms,
            lat: event.current_lat,
            lon: event.current_lon,
            start_lat: event.start_lat,
            start_lon: event.start_lon,
            end_lat: event.end_lat,
            end_lon: event.end_lon,
            speed_kmh,
            speed_derived,
            heading_deg: event.heading_deg,
            distance_from_previous_m: distance,
            suspect_teleport: u8::from(suspect_teleport),
            session_started_at_ms,
            route_name: event.route_name.unwrap_or_default(),
            waypoint_count: event.waypoint_count.unwrap_or(0),
            seq: event.seq,
            received_at: seconds(received_at_ms),
            received_at_ms,
            ingested_at: seconds(ingested_at_ms),
            ingested_at_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::{TimeZone, Utc};
    use packetpulse_model::{DeliveryEvent, PublishedEvent, testing};
    use uuid::Uuid;

    use super::*;

    fn event(second: i64, lat: f64, lon: f64, speed: Option<f64>) -> PublishedEvent {
        let at = Utc.with_ymd_and_hms(2026, 11, 27, 8, 0, 0).unwrap() + chrono::Duration::seconds(second);
        PublishedEvent {
            event_id: Uuid::from_u128(u128::try_from(second + 1_000).unwrap()),
            ..testing::published(DeliveryEvent {
                session_id: "s".into(),
                timestamp: at,
                current_lat: lat,
                current_lon: lon,
                speed_kmh: speed,
                ..testing::event()
            })
        }
    }

    #[test]
    fn distance_and_derived_speed_come_from_the_previous_point() {
        let mut enricher = Enricher::new(200.0);
        let first = enricher.enrich(event(0, 37.98, 23.72, None), Position::default(), 0);
        assert_eq!(
            (
                first.distance_from_previous_m,
                first.speed_kmh,
                first.speed_derived
            ),
            (0.0, 0.0, 1)
        );
        // 0.001° of latitude ≈ 111 m in 10 s ≈ 40 km/h.
        let second = enricher.enrich(event(10, 37.981, 23.72, None), Position::default(), 0);
        assert!(
            (second.distance_from_previous_m - 111.2).abs() < 0.5,
            "{}",
            second.distance_from_previous_m
        );
        assert!((second.speed_kmh - 40.0).abs() < 0.5, "{}", second.speed_kmh);
        assert_eq!(second.speed_derived, 1);
        assert_eq!(second.suspect_teleport, 0);
        let reported = enricher.enrich(event(20, 37.982, 23.72, Some(33.0)), Position::default(), 0);
        assert_eq!((reported.speed_kmh, reported.speed_derived), (33.0, 0));
    }

    #[test]
    fn a_late_event_is_measured_from_the_point_before_it_in_event_time() {
        let mut enricher = Enricher::new(200.0);
        enricher.enrich(event(0, 37.980, 23.72, None), Position::default(), 0);
        enricher.enrich(event(20, 37.982, 23.72, None), Position::default(), 0);
        let late = enricher.enrich(event(10, 37.981, 23.72, None), Position::default(), 0);
        assert!((late.distance_from_previous_m - 111.2).abs() < 0.5);
        let started_late = enricher.enrich(event(-30, 37.979, 23.72, None), Position::default(), 0);
        assert_eq!(started_late.distance_from_previous_m, 0.0);
        assert_eq!(started_late.session_started_at_ms, started_late.event_time_ms);
        let next = enricher.enrich(event(30, 37.983, 23.72, None), Position::default(), 0);
        assert_eq!(next.session_started_at_ms, started_late.event_time_ms);
    }

    #[test]
    fn an_impossible_jump_is_flagged_not_dropped() {
        let mut enricher = Enricher::new(200.0);
        enricher.enrich(event(0, 37.98, 23.72, Some(30.0)), Position::default(), 0);
        // About 11 km in 10 s.
        let jump = enricher.enrich(event(10, 38.08, 23.72, Some(30.0)), Position::default(), 0);
        assert_eq!(jump.suspect_teleport, 1);
        assert_eq!(jump.speed_kmh, 30.0);
    }

    #[test]
    fn a_duplicate_gets_the_same_enrichment() {
        let mut enricher = Enricher::new(200.0);
        enricher.enrich(event(0, 37.980, 23.72, None), Position::default(), 0);
        let once = enricher.enrich(event(10, 37.981, 23.72, None), Position::default(), 0);
        let again = enricher.enrich(event(10, 37.981, 23.72, None), Position::default(), 0);
        assert_eq!(once, again);
    }

    #[test]
    fn a_completed_session_is_forgotten_once_its_partition_moved_on() {
        let mut enricher = Enricher::new(200.0);
        let mut done = event(0, 37.98, 23.72, None);
        done.event.status = DeliveryStatus::Completed;
        enricher.enrich(
            done,
            Position {
                partition: 0,
                offset: 10,
            },
            0,
        );
        let mut other = event(5, 37.0, 23.0, None);
        other.event.session_id = "t".into();
        let far = 10 + COMPLETED_RETENTION_OFFSETS;
        enricher.enrich(
            other.clone(),
            Position {
                partition: 1,
                offset: far,
            },
            0,
        );
        assert_eq!(enricher.sessions(), 2, "other partitions' offsets do not count");
        enricher.enrich(
            other.clone(),
            Position {
                partition: 0,
                offset: far - 1,
            },
            0,
        );
        assert_eq!(enricher.sessions(), 2);
        enricher.enrich(
            other.clone(),
            Position {
                partition: 0,
                offset: far,
            },
            0,
        );
        assert_eq!(enricher.sessions(), 1);
    }

    #[test]
    fn a_restored_session_continues_where_it_was() {
        let mut enricher = Enricher::new(200.0);
        let first = event(0, 37.980, 23.72, None);
        let started = epoch_ms(&first.event.timestamp);
        let restored_point = GeoPoint::new(37.981, 23.72);
        enricher.restore("s".into(), started, [(started + 10_000, restored_point)]);
        let next = enricher.enrich(event(20, 37.982, 23.72, None), Position::default(), 0);
        assert!((next.distance_from_previous_m - 111.2).abs() < 0.5);
        assert_eq!(next.session_started_at_ms, started);
        // History already here wins over a later restore.
        enricher.restore("s".into(), 0, []);
        let after = enricher.enrich(event(30, 37.983, 23.72, None), Position::default(), 0);
        assert_eq!(after.session_started_at_ms, started);
    }

    /// An event of a session heard from once, `minute` minutes into the day.
    fn lone(session: &str, minute: i64) -> PublishedEvent {
        PublishedEvent {
            event_id: Uuid::new_v4(),
            ..testing::published(DeliveryEvent {
                session_id: session.to_owned(),
                timestamp: Utc.with_ymd_and_hms(2026, 11, 27, 0, 0, 0).unwrap()
                    + chrono::Duration::minutes(minute),
                ..testing::event()
            })
        }
    }

    #[test]
    fn a_session_idle_longer_than_the_timeout_is_forgotten_and_an_active_one_is_kept() {
        let mut enricher = Enricher::new(200.0).with_idle_timeout(std::time::Duration::from_secs(600));
        enricher.enrich(lone("idle", 0), Position::default(), 0);
        for minute in 0..30 {
            enricher.enrich(lone("active", minute), Position::default(), 0);
        }
        assert!(!enricher.knows("idle"), "10 minutes idle is the limit");
        assert!(enricher.knows("active"));
        assert_eq!(enricher.evicted_idle(), 1);
        // Partitions keep their own clocks: a quiet partition evicts nothing.
        enricher.enrich(
            lone("elsewhere", 0),
            Position {
                partition: 1,
                offset: 0,
            },
            0,
        );
        enricher.enrich(lone("active", 100), Position::default(), 0);
        assert!(enricher.knows("elsewhere"));
    }

    #[test]
    fn a_forgotten_session_adopted_back_from_silver_is_measured_from_its_newest_point() {
        let mut enricher = Enricher::new(200.0);
        let first = event(0, 37.980, 23.72, None);
        let started = epoch_ms(&first.event.timestamp);
        enricher.adopt(
            "s",
            0,
            Lifecycle::default(),
            Some(StoredSession {
                started_at_ms: started,
                points: vec![StoredPoint {
                    time_ms: started + 10_000,
                    point: GeoPoint::new(37.981, 23.72),
                    event_id: 7,
                }],
            }),
        );
        let next = enricher.enrich(event(20, 37.982, 23.72, None), Position::default(), 0);
        assert!(
            (next.distance_from_previous_m - 111.2).abs() < 0.5,
            "{}",
            next.distance_from_previous_m
        );
        assert_eq!(next.session_started_at_ms, started);
    }

    #[test]
    fn events_read_again_after_a_rebalance_are_copies_or_measured_from_their_predecessor() {
        // The previous owner inserted steps 0–5; the new one reads again from the committed offset, step 3.
        let step = |n: i64| event(n * 10, 37.980 + n as f64 * 1e-3, 23.72, None);
        let started = epoch_ms(&step(0).event.timestamp);
        let mut enricher = Enricher::new(200.0);
        enricher.adopt(
            "s",
            2,
            Lifecycle::default(),
            Some(StoredSession {
                started_at_ms: started,
                points: (0..6)
                    .rev()
                    .map(|n| {
                        let stored = step(n);
                        StoredPoint {
                            time_ms: epoch_ms(&stored.event.timestamp),
                            point: stored.event.current(),
                            event_id: stored.event_id.as_u128(),
                        }
                    })
                    .collect(),
            }),
        );
        for n in 3..6 {
            assert!(enricher.take_copy(&step(n)), "step {n} is in silver already");
        }
        let next = enricher.enrich(
            step(6),
            Position {
                partition: 2,
                offset: 6,
            },
            0,
        );
        assert!(
            (next.distance_from_previous_m - 111.2).abs() < 0.5,
            "measured from step 5: {}",
            next.distance_from_previous_m
        );
        assert_eq!(next.session_started_at_ms, started);
    }

    #[test]
    fn a_rebalance_forgets_the_sessions_of_the_partitions_taken_away() {
        let mut enricher = Enricher::new(200.0);
        for (session, partition) in [("kept", 0), ("taken", 1)] {
            enricher.enrich(lone(session, 0), Position { partition, offset: 0 }, 0);
        }
        enricher.restore("restored-at-start".into(), 0, []);
        assert_eq!(enricher.forget_partitions(&[1]), 2);
        assert!(enricher.knows("kept"));
        assert!(!enricher.knows("taken"));
        assert_eq!(
            enricher.sessions(),
            1,
            "the restored session was tied to no partition"
        );
    }

    /// The process' resident memory, bytes (Linux).
    fn rss_bytes() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    }

    #[test]
    fn a_million_events_of_fresh_sessions_keep_memory_flat() {
        // One event per session, a second of event time apart, over 6 partitions: without eviction every one of
        // the million sessions would stay (about 400 bytes each).
        let mut enricher = Enricher::new(200.0).with_idle_timeout(std::time::Duration::from_secs(600));
        let start = Utc.with_ymd_and_hms(2026, 11, 27, 0, 0, 0).unwrap();
        let template = testing::published(testing::event());
        let mut rss_after_warm_up = 0;
        let mut most_held = 0;
        for i in 0..1_000_000_i64 {
            let mut event = template.clone();
            event.event_id = Uuid::from_u128(u128::try_from(i).unwrap());
            event.event.session_id = format!("fresh-{i}");
            event.event.timestamp = start + chrono::Duration::seconds(i);
            let position = Position {
                partition: i32::try_from(i % 6).unwrap(),
                offset: i / 6,
            };
            enricher.enrich(event, position, 0);
            most_held = most_held.max(enricher.sessions());
            if i == 200_000 {
                rss_after_warm_up = rss_bytes();
            }
        }
        let growth = rss_bytes().saturating_sub(rss_after_warm_up);
        println!(
            "held at most {most_held} sessions; RSS grew {} KiB from 200k to 1M events",
            growth / 1024
        );
        // 600 s of event time at one event a second: about 600 sessions are within the timeout.
        assert!(most_held <= 1_300, "{most_held} sessions held");
        assert_eq!(enricher.evicted_idle() + enricher.sessions() as u64, 1_000_000);
        assert!(growth < 16 * 1024 * 1024, "RSS grew {} KiB", growth / 1024);
    }
}
