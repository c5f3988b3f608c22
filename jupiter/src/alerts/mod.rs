//! Alert detection: positions become alerts a dispatcher acts on — geofence enter and exit, overspeed, idle,
//! offline and abandoned sessions (issue 19; this is the detector, not yet wired into the pipeline).
//!
//! Every rule reads a session's events in event-time order; an event older than the newest one seen for its
//! session raises nothing. Alert ids come from the rule, the session, the geofence and the triggering event
//! ([`packetpulse_model::alert_id`]), so the same events always give the same alerts: a restart, a replay or a
//! backfill from bronze repeats ids instead of inventing new ones. Offline and abandonment are timers: [`Detector::tick`]
//! takes the clock to measure silence against.

mod book;
pub mod clock;
mod geofences;
pub mod restore;
mod row;
mod rule_book;

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::time::Duration;

use chrono::{DateTime, Utc};
use packetpulse_model::{Alert, AlertKind, DeliveryStatus, GeoPoint, Geofence, alert_id};
use uuid::Uuid;

pub use book::GeofenceBook;
pub use geofences::GeofenceIndex;
pub use row::AlertRow;
pub use rule_book::RuleBook;

/// When a rule fires: Jupiter's settings, each overridable per rule from Mercury ([`RuleBook`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    /// Speed limit, km/h.
    pub overspeed_kmh: f64,
    /// How long above it before an alert.
    pub overspeed_for: Duration,
    /// Below this speed (km/h) an en-route vehicle stands still.
    pub idle_kmh: f64,
    /// How long standing still before an alert.
    pub idle_for: Duration,
    /// Silence before an active session is offline.
    pub offline_after: Duration,
    /// Silence before an active session is closed as abandoned.
    pub abandoned_after: Duration,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            overspeed_kmh: 90.0,
            overspeed_for: Duration::from_secs(30),
            idle_kmh: 2.0,
            idle_for: Duration::from_secs(5 * 60),
            offline_after: Duration::from_secs(120),
            abandoned_after: Duration::from_secs(2 * 60 * 60),
        }
    }
}

/// What the detector needs of one event.
#[derive(Debug, Clone, Copy)]
pub struct Observation<'a> {
    /// The event's id.
    pub event_id: Uuid,
    /// Its session.
    pub session_id: &'a str,
    /// Its vehicle.
    pub vehicle_id: &'a str,
    /// Its status.
    pub status: DeliveryStatus,
    /// Event time, epoch ms.
    pub time_ms: u64,
    /// Position.
    pub point: GeoPoint,
    /// Speed, km/h (the device's or Jupiter's derived one).
    pub speed_kmh: f64,
    /// The Kafka partition it was read from: silence is measured by that partition's clock.
    pub partition: i32,
}

/// A session's rule state as silver's rows give it back (see `restore`), to go on where another instance or
/// an earlier run of this one stopped.
#[derive(Debug, Clone, PartialEq)]
pub struct RestoredSession {
    /// Its vehicle.
    pub vehicle_id: String,
    /// The partition its events come from.
    pub partition: i32,
    /// Its newest event: time, id, position.
    pub last_ms: u64,
    /// The newest event's id.
    pub last_event: Uuid,
    /// The newest event's position.
    pub last_point: GeoPoint,
    /// Start of the trailing run of events above the speed limit, and the top speed in it.
    pub over_limit: Option<(u64, f64)>,
    /// Start of the trailing run of en-route events standing still.
    pub still_since_ms: Option<u64>,
}

/// The start of a condition that has held since: when, and the event that began it.
#[derive(Debug, Clone, Copy)]
struct Since {
    time_ms: u64,
    alerted: bool,
}

#[derive(Debug)]
struct SessionState {
    vehicle_id: String,
    partition: i32,
    last_ms: u64,
    last_event: Uuid,
    last_point: GeoPoint,
    inside: BTreeSet<String>,
    over_limit: Option<Since>,
    top_kmh: f64,
    still: Option<Since>,
    offline_alerted: bool,
}

/// Closed sessions remembered (oldest forgotten first): enough for a day of a large fleet's trips. One
/// forgotten is read back from silver as closed if it ever sends again.
const CLOSED_REMEMBERED: usize = 100_000;

/// Per-session rule state and the geofences in force.
pub struct Detector {
    thresholds: Thresholds,
    fences: GeofenceIndex,
    sessions: HashMap<String, SessionState>,
    /// Sessions completed or abandoned: their later events raise nothing.
    closed: HashSet<String>,
    closed_order: VecDeque<String>,
}

impl Detector {
    /// A detector with `thresholds` and no geofence.
    pub fn new(thresholds: Thresholds) -> Self {
        Self {
            thresholds,
            fences: GeofenceIndex::new(Vec::new()),
            sessions: HashMap::new(),
            closed: HashSet::new(),
            closed_order: VecDeque::new(),
        }
    }

    /// Puts `fences` in force instead of the current ones. A session's geofences are re-evaluated at its next
    /// event, so a new geofence around a vehicle raises an enter then.
    pub fn set_geofences(&mut self, fences: Vec<Geofence>) {
        self.fences = GeofenceIndex::new(fences);
    }

    /// Puts `thresholds` in force: followed sessions are judged by them from their next event or tick.
    pub fn set_thresholds(&mut self, thresholds: Thresholds) {
        self.thresholds = thresholds;
    }

    /// Sessions followed.
    pub fn sessions(&self) -> usize {
        self.sessions.len()
    }

    /// The thresholds in force.
    pub fn thresholds(&self) -> &Thresholds {
        &self.thresholds
    }

    /// Geofences in force.
    pub fn geofences(&self) -> usize {
        self.fences.len()
    }

    /// Whether `session_id` is followed here or known to be closed.
    pub fn knows(&self, session_id: &str) -> bool {
        self.sessions.contains_key(session_id) || self.closed.contains(session_id)
    }

    /// Stops following `session_id` for good (completed or abandoned): its later events raise nothing.
    pub fn close(&mut self, session_id: &str) {
        self.sessions.remove(session_id);
        if self.closed.insert(session_id.to_owned()) {
            self.closed_order.push_back(session_id.to_owned());
            if self.closed_order.len() > CLOSED_REMEMBERED
                && let Some(oldest) = self.closed_order.pop_front()
            {
                self.closed.remove(&oldest);
            }
        }
    }

    /// Follows a session from the state silver gave back, unless it is followed already. The geofences it is in
    /// are those holding its newest position now.
    pub fn restore(&mut self, session_id: &str, restored: RestoredSession) {
        if self.sessions.contains_key(session_id) {
            return;
        }
        let thresholds = &self.thresholds;
        let inside = self
            .fences
            .containing(restored.last_point, &restored.vehicle_id)
            .map(|fence| fence.id.clone())
            .collect();
        let since = |start_ms: u64, threshold: Duration| Since {
            time_ms: start_ms,
            alerted: Duration::from_millis(restored.last_ms.saturating_sub(start_ms)) >= threshold,
        };
        let state = SessionState {
            over_limit: restored
                .over_limit
                .map(|(start, _)| since(start, thresholds.overspeed_for)),
            top_kmh: restored.over_limit.map_or(0.0, |(_, top)| top),
            // Idle fires strictly after its time (`held > idle_for`).
            still: restored.still_since_ms.map(|start| Since {
                time_ms: start,
                alerted: Duration::from_millis(restored.last_ms.saturating_sub(start)) > thresholds.idle_for,
            }),
            vehicle_id: restored.vehicle_id,
            partition: restored.partition,
            last_ms: restored.last_ms,
            last_event: restored.last_event,
            last_point: restored.last_point,
            inside,
            offline_alerted: false,
        };
        self.sessions.insert(session_id.to_owned(), state);
    }

    /// Stops following the sessions of `partitions` (a rebalance gave them to another instance, which restores
    /// them from silver). Returns how many.
    pub fn forget_partitions(&mut self, partitions: &[i32]) -> usize {
        let before = self.sessions.len();
        self.sessions
            .retain(|_, state| !partitions.contains(&state.partition));
        before - self.sessions.len()
    }

    /// The alerts `event` raises. A session's first event places it (the geofences it starts in raise no enter,
    /// the speed rules start counting); its completion ends it (no offline or abandonment after).
    pub fn observe(&mut self, event: &Observation<'_>) -> Vec<Alert> {
        let mut alerts = Vec::new();
        let now_inside: BTreeSet<String> = self
            .fences
            .containing(event.point, event.vehicle_id)
            .map(|fence| fence.id.clone())
            .collect();
        let thresholds = &self.thresholds;
        if self.closed.contains(event.session_id) {
            return alerts;
        }
        let first = !self.sessions.contains_key(event.session_id);
        if first && event.status == DeliveryStatus::Completed {
            self.close(event.session_id);
            return alerts;
        }
        let state = self
            .sessions
            .entry(event.session_id.to_owned())
            .or_insert_with(|| SessionState {
                vehicle_id: event.vehicle_id.to_owned(),
                partition: event.partition,
                last_ms: 0,
                last_event: event.event_id,
                last_point: event.point,
                inside: now_inside.clone(),
                over_limit: None,
                top_kmh: 0.0,
                still: None,
                offline_alerted: false,
            });
        if !first && event.time_ms <= state.last_ms {
            return alerts; // late or repeated: the rules have moved past it
        }
        state.partition = event.partition;
        // A silence a tick did not see (read from a backlog or a backfill) raises what a tick would have.
        if !first && judge_silence(event.session_id, state, event.time_ms, thresholds, &mut alerts) {
            self.close(event.session_id);
            return alerts;
        }
        let raise = |kind: AlertKind, geofence: Option<&str>, message: String| Alert {
            alert_id: alert_id(kind, event.session_id, geofence.unwrap_or(""), event.event_id),
            kind,
            session_id: event.session_id.to_owned(),
            vehicle_id: event.vehicle_id.to_owned(),
            geofence_id: geofence.map(str::to_owned),
            trigger_event_id: event.event_id,
            at: time(event.time_ms),
            position: event.point,
            message,
        };
        for entered in now_inside.difference(&state.inside) {
            let message = format!("vehicle {:?} entered geofence {entered:?}", event.vehicle_id);
            alerts.push(raise(AlertKind::GeofenceEnter, Some(entered), message));
        }
        for left in state.inside.difference(&now_inside) {
            let message = format!("vehicle {:?} left geofence {left:?}", event.vehicle_id);
            alerts.push(raise(AlertKind::GeofenceExit, Some(left), message));
        }
        state.inside = now_inside;

        if event.speed_kmh > thresholds.overspeed_kmh {
            let since = state.over_limit.get_or_insert(Since {
                time_ms: event.time_ms,
                alerted: false,
            });
            state.top_kmh = state.top_kmh.max(event.speed_kmh);
            let held = Duration::from_millis(event.time_ms - since.time_ms);
            if !since.alerted && held >= thresholds.overspeed_for {
                since.alerted = true;
                let message = format!(
                    "vehicle {:?} above {} km/h for {} s (top {:.0} km/h)",
                    event.vehicle_id,
                    thresholds.overspeed_kmh,
                    held.as_secs(),
                    state.top_kmh
                );
                alerts.push(raise(AlertKind::Overspeed, None, message));
            }
        } else {
            state.over_limit = None;
            state.top_kmh = 0.0;
        }

        if event.status == DeliveryStatus::EnRoute && event.speed_kmh < thresholds.idle_kmh {
            let since = state.still.get_or_insert(Since {
                time_ms: event.time_ms,
                alerted: false,
            });
            let held = Duration::from_millis(event.time_ms - since.time_ms);
            if !since.alerted && held > thresholds.idle_for {
                since.alerted = true;
                let message = format!(
                    "vehicle {:?} standing still en route for {} min",
                    event.vehicle_id,
                    held.as_secs() / 60
                );
                alerts.push(raise(AlertKind::Idle, None, message));
            }
        } else {
            state.still = None;
        }

        state.last_ms = event.time_ms;
        state.last_event = event.event_id;
        state.last_point = event.point;
        state.offline_alerted = false;
        if event.status == DeliveryStatus::Completed {
            self.close(event.session_id);
        }
        alerts
    }

    /// The alerts silence raises: offline once per silence, and abandonment, which also stops following the
    /// session. Both name the session's last event before the silence as their trigger. `clock` gives the time
    /// of each partition (see `clock`); a session of a partition without one is not judged.
    pub fn tick(&mut self, clock: impl Fn(i32) -> Option<u64>) -> Vec<Alert> {
        let mut alerts = Vec::new();
        let mut abandoned = Vec::new();
        for (session_id, state) in &mut self.sessions {
            let Some(now_ms) = clock(state.partition) else {
                continue;
            };
            if judge_silence(session_id, state, now_ms, &self.thresholds, &mut alerts) {
                abandoned.push(session_id.clone());
            }
        }
        for session_id in abandoned {
            self.close(&session_id);
        }
        alerts
    }
}

/// The alerts a silence from `state.last_ms` to `now_ms` raises, into `alerts`: offline once per silence, then
/// abandonment; returns whether the session is abandoned. Stamped when each threshold was crossed, not when the
/// silence was noticed, so the same events give the same alerts whether a tick saw the silence as it happened
/// or the next event revealed it (a backlog, a backfill).
fn judge_silence(
    session_id: &str,
    state: &mut SessionState,
    now_ms: u64,
    thresholds: &Thresholds,
    alerts: &mut Vec<Alert>,
) -> bool {
    let silent = Duration::from_millis(now_ms.saturating_sub(state.last_ms));
    let raise = |kind: AlertKind, after: Duration, message: String| Alert {
        alert_id: alert_id(kind, session_id, "", state.last_event),
        kind,
        session_id: session_id.to_owned(),
        vehicle_id: state.vehicle_id.clone(),
        geofence_id: None,
        trigger_event_id: state.last_event,
        at: time(
            state
                .last_ms
                .saturating_add(u64::try_from(after.as_millis()).unwrap_or(u64::MAX)),
        ),
        position: state.last_point,
        message,
    };
    if silent > thresholds.offline_after && !state.offline_alerted {
        let message = format!(
            "vehicle {:?} offline: no event for over {} s",
            state.vehicle_id,
            thresholds.offline_after.as_secs()
        );
        alerts.push(raise(AlertKind::Offline, thresholds.offline_after, message));
        state.offline_alerted = true;
    }
    if silent > thresholds.abandoned_after {
        let message = format!(
            "session {session_id:?} silent for over {} min: closed as abandoned",
            thresholds.abandoned_after.as_secs() / 60
        );
        alerts.push(raise(AlertKind::Abandoned, thresholds.abandoned_after, message));
        return true;
    }
    false
}

fn time(ms: u64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(i64::try_from(ms).unwrap_or(i64::MAX)).unwrap_or_default()
}

#[cfg(test)]
mod tests;
