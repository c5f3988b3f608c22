//! Alerts and geofences: what the detector (in Jupiter) turns positions into, and the areas dispatchers draw.
//!
//! An alert's id is derived from what caused it — the rule, the session, the geofence if any, and the event that
//! triggered it — so a restart, a replay or a backfill from bronze produces the same ids, and whoever delivers
//! alerts (Mercury's webhooks and emails) can tell one it already sent.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::{Uuid, uuid};

use crate::geo::{GeoPoint, haversine_m};

/// The UUIDv5 namespace of alert ids. Never change it: every stored and delivered alert id depends on it.
pub const ALERT_ID_NAMESPACE: Uuid = uuid!("0b7e4c1e-3f52-4d0c-8a4e-6c1f9d2b7a31");

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// A vehicle entered a geofence.
    GeofenceEnter,
    /// A vehicle left a geofence.
    GeofenceExit,
    /// Above the speed limit for at least the set time.
    Overspeed,
    /// Under 2 km/h for longer than the set time while en route.
    Idle,
    /// No event for longer than the set time while the session is active.
    Offline,
    /// Silent for longer than the abandonment time: the session is closed as abandoned.
    Abandoned,
}

impl AlertKind {
    /// The snake_case name used in JSON, topics and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::GeofenceEnter => "geofence_enter",
            Self::GeofenceExit => "geofence_exit",
            Self::Overspeed => "overspeed",
            Self::Idle => "idle",
            Self::Offline => "offline",
            Self::Abandoned => "abandoned",
        }
    }
}

/// One alert, as published to the `alerts` topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Deterministic id: see [`alert_id`].
    pub alert_id: Uuid,
    /// What it is about.
    pub kind: AlertKind,
    /// The session.
    pub session_id: String,
    /// The vehicle.
    pub vehicle_id: String,
    /// The geofence, for enter and exit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geofence_id: Option<String>,
    /// The event that triggered it (for timer rules: the session's last event before the silence).
    pub trigger_event_id: Uuid,
    /// When it happened, by event time.
    pub at: DateTime<Utc>,
    /// Where the vehicle was.
    pub position: GeoPoint,
    /// What a person reads, e.g. `vehicle "v-7" above 90 km/h for 30 s (max 104 km/h)`.
    pub message: String,
}

/// The id of the alert of `kind` for `session_id`, about `geofence_id` (empty when none), triggered by
/// `trigger_event_id`: UUIDv5 in [`ALERT_ID_NAMESPACE`] over `"{kind}\n{session_id}\n{geofence_id}\n{trigger}"`.
/// Ids cannot contain a newline (validation rejects control characters), so the name is unambiguous.
pub fn alert_id(kind: AlertKind, session_id: &str, geofence_id: &str, trigger_event_id: Uuid) -> Uuid {
    let name = format!(
        "{}\n{session_id}\n{geofence_id}\n{}",
        kind.as_str(),
        trigger_event_id.hyphenated()
    );
    Uuid::new_v5(&ALERT_ID_NAMESPACE, name.as_bytes())
}

/// An area dispatchers draw on the map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Geofence {
    /// Stable id (the key of the compacted `geofences` topic).
    pub id: String,
    /// What dispatchers call it.
    pub name: String,
    /// Its outline.
    pub shape: GeofenceShape,
    /// The vehicles it applies to; `None` = every vehicle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vehicles: Option<Vec<String>>,
}

/// Most corners a polygon geofence may have.
pub const MAX_GEOFENCE_CORNERS: usize = 10_000;
/// Largest circle radius, metres.
pub const MAX_GEOFENCE_RADIUS_M: f64 = 100_000.0;

impl Geofence {
    /// The geofence a record of the `geofences` topic carries under `key`: JSON, valid, filed under its own id.
    pub fn from_record(key: &str, payload: &[u8]) -> Result<Self, String> {
        let fence: Self =
            serde_json::from_slice(payload).map_err(|error| format!("unreadable geofence: {error}"))?;
        if let Some(problem) = fence.problem() {
            return Err(problem);
        }
        if fence.id != key {
            return Err(format!("geofence {:?} filed under another key", fence.id));
        }
        Ok(fence)
    }

    /// Why this geofence cannot be put in force, or `None`: an id and a name (printable, at most 128 and 200
    /// characters), coordinates on the globe, a radius up to [`MAX_GEOFENCE_RADIUS_M`], 3 to
    /// [`MAX_GEOFENCE_CORNERS`] corners.
    pub fn problem(&self) -> Option<String> {
        let text = |what: &str, value: &str, max: usize| {
            if value.trim().is_empty() || value.chars().count() > max || value.chars().any(char::is_control) {
                Some(format!("{what} must be 1 to {max} printable characters"))
            } else {
                None
            }
        };
        let on_globe =
            |point: &GeoPoint| (-90.0..=90.0).contains(&point.lat) && (-180.0..=180.0).contains(&point.lon);
        text("id", &self.id, 128)
            .or_else(|| text("name", &self.name, 200))
            .or_else(|| match &self.shape {
                GeofenceShape::Circle { center, radius_m } => {
                    if !on_globe(center) {
                        Some(
                            "the centre must be a latitude in [-90, 90] and a longitude in [-180, 180]"
                                .into(),
                        )
                    } else if !(*radius_m > 0.0 && *radius_m <= MAX_GEOFENCE_RADIUS_M) {
                        Some(format!(
                            "the radius must be above 0 and at most {MAX_GEOFENCE_RADIUS_M} m"
                        ))
                    } else {
                        None
                    }
                }
                GeofenceShape::Polygon { ring } => {
                    if !(3..=MAX_GEOFENCE_CORNERS).contains(&ring.len()) {
                        Some(format!("a polygon needs 3 to {MAX_GEOFENCE_CORNERS} corners"))
                    } else if !ring.iter().all(on_globe) {
                        Some(
                            "every corner must be a latitude in [-90, 90] and a longitude in [-180, 180]"
                                .into(),
                        )
                    } else {
                        None
                    }
                }
            })
            .or_else(|| {
                self.vehicles
                    .iter()
                    .flatten()
                    .find_map(|vehicle| text("a vehicle id", vehicle, 128))
            })
    }

    /// Whether it applies to `vehicle_id`.
    pub fn applies_to(&self, vehicle_id: &str) -> bool {
        self.vehicles
            .as_ref()
            .is_none_or(|vehicles| vehicles.iter().any(|v| v == vehicle_id))
    }
}

/// A geofence's outline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum GeofenceShape {
    /// Every point within `radius_m` of `center` (great-circle distance).
    Circle {
        /// Centre.
        center: GeoPoint,
        /// Radius, metres.
        radius_m: f64,
    },
    /// A simple polygon (first point not repeated at the end); edges are straight in latitude/longitude, which at
    /// city scale is within metres of the geodesic.
    Polygon {
        /// Its corners, in order.
        ring: Vec<GeoPoint>,
    },
}

/// A box in degrees: `(min_lat, min_lon)` to `(max_lat, max_lon)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoundingBox {
    /// South-west corner.
    pub min: GeoPoint,
    /// North-east corner.
    pub max: GeoPoint,
}

impl GeofenceShape {
    /// Whether `point` is inside (a point on a polygon's edge may count either way).
    pub fn contains(&self, point: GeoPoint) -> bool {
        match self {
            Self::Circle { center, radius_m } => haversine_m(*center, point) <= *radius_m,
            Self::Polygon { ring } => ray_crossings_odd(ring, point),
        }
    }

    /// A box that holds the whole shape, for a spatial index.
    pub fn bounding_box(&self) -> BoundingBox {
        match self {
            Self::Circle { center, radius_m } => {
                let dlat = (radius_m / crate::geo::EARTH_RADIUS_M).to_degrees();
                // Longitude degrees shrink with latitude; near the poles the box spans every longitude.
                let cos = center.lat.to_radians().cos();
                let dlon = if cos > 1e-6 {
                    (dlat / cos).min(180.0)
                } else {
                    180.0
                };
                BoundingBox {
                    min: GeoPoint::new(center.lat - dlat, center.lon - dlon),
                    max: GeoPoint::new(center.lat + dlat, center.lon + dlon),
                }
            }
            Self::Polygon { ring } => {
                let mut min = GeoPoint::new(f64::INFINITY, f64::INFINITY);
                let mut max = GeoPoint::new(f64::NEG_INFINITY, f64::NEG_INFINITY);
                for point in ring {
                    min = GeoPoint::new(min.lat.min(point.lat), min.lon.min(point.lon));
                    max = GeoPoint::new(max.lat.max(point.lat), max.lon.max(point.lon));
                }
                BoundingBox { min, max }
            }
        }
    }
}

/// Even-odd rule: a ray from `point` towards increasing longitude crosses the ring's edges an odd number of
/// times exactly when the point is inside.
fn ray_crossings_odd(ring: &[GeoPoint], point: GeoPoint) -> bool {
    let mut inside = false;
    let mut previous = match ring.last() {
        Some(last) => *last,
        None => return false,
    };
    for &current in ring {
        if (current.lat > point.lat) != (previous.lat > point.lat) {
            let crossing_lon = previous.lon
                + (point.lat - previous.lat) / (current.lat - previous.lat) * (current.lon - previous.lon);
            if point.lon < crossing_lon {
                inside = !inside;
            }
        }
        previous = current;
    }
    inside
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn square() -> GeofenceShape {
        GeofenceShape::Polygon {
            ring: vec![
                GeoPoint::new(37.97, 23.72),
                GeoPoint::new(37.97, 23.74),
                GeoPoint::new(37.99, 23.74),
                GeoPoint::new(37.99, 23.72),
            ],
        }
    }

    #[test]
    fn a_polygon_holds_what_is_inside_and_not_what_is_outside() {
        assert!(square().contains(GeoPoint::new(37.98, 23.73)));
        assert!(!square().contains(GeoPoint::new(37.96, 23.73)));
        assert!(!square().contains(GeoPoint::new(37.98, 23.75)));
        // A concave corner: an L shape without its north-east quarter.
        let l_shape = GeofenceShape::Polygon {
            ring: vec![
                GeoPoint::new(0.0, 0.0),
                GeoPoint::new(0.0, 2.0),
                GeoPoint::new(1.0, 2.0),
                GeoPoint::new(1.0, 1.0),
                GeoPoint::new(2.0, 1.0),
                GeoPoint::new(2.0, 0.0),
            ],
        };
        assert!(l_shape.contains(GeoPoint::new(0.5, 1.5)));
        assert!(!l_shape.contains(GeoPoint::new(1.5, 1.5)));
    }

    #[test]
    fn a_circle_holds_points_within_its_radius_and_its_box_holds_the_circle() {
        let circle = GeofenceShape::Circle {
            center: GeoPoint::new(37.98, 23.73),
            radius_m: 500.0,
        };
        assert!(circle.contains(GeoPoint::new(37.983, 23.73))); // ~333 m north
        assert!(!circle.contains(GeoPoint::new(37.986, 23.73))); // ~667 m north
        let bounds = circle.bounding_box();
        // 499 m north, south, east and west of the centre: inside the circle, so inside its box.
        let dlat = (499.0 / crate::geo::EARTH_RADIUS_M).to_degrees();
        let dlon = dlat / 37.98_f64.to_radians().cos();
        for (lat, lon) in [(dlat, 0.0), (-dlat, 0.0), (0.0, dlon), (0.0, -dlon)] {
            let edge = GeoPoint::new(37.98 + lat, 23.73 + lon);
            assert!(circle.contains(edge), "{edge:?}");
            assert!(
                (bounds.min.lat..=bounds.max.lat).contains(&edge.lat)
                    && (bounds.min.lon..=bounds.max.lon).contains(&edge.lon),
                "{edge:?} outside {bounds:?}"
            );
        }
    }

    #[test]
    fn alert_ids_depend_on_every_part_of_their_cause_and_nothing_else() {
        let event = Uuid::from_u128(7);
        let id = alert_id(AlertKind::GeofenceEnter, "s-1", "depot", event);
        assert_eq!(id, alert_id(AlertKind::GeofenceEnter, "s-1", "depot", event));
        assert_ne!(id, alert_id(AlertKind::GeofenceExit, "s-1", "depot", event));
        assert_ne!(id, alert_id(AlertKind::GeofenceEnter, "s-2", "depot", event));
        assert_ne!(id, alert_id(AlertKind::GeofenceEnter, "s-1", "yard", event));
        assert_ne!(
            id,
            alert_id(AlertKind::GeofenceEnter, "s-1", "depot", Uuid::from_u128(8))
        );
        assert_eq!(id.get_version_num(), 5);
    }

    #[test]
    fn geofences_read_and_write_as_json() {
        let fence = Geofence {
            id: "depot".into(),
            name: "Depot".into(),
            shape: square(),
            vehicles: Some(vec!["v-1".into()]),
        };
        let json = serde_json::to_value(&fence).unwrap();
        assert_eq!(json["shape"]["type"], "polygon");
        assert_eq!(serde_json::from_value::<Geofence>(json).unwrap(), fence);
        assert!(fence.applies_to("v-1") && !fence.applies_to("v-2"));
    }
}
