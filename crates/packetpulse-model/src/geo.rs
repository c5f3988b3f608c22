//! Great-circle geometry on a spherical Earth: distances, bearings, and positions along a route polyline.
//!
//! A sphere of the IUGG mean radius is within 0.5 % of the ellipsoid, plenty for ETAs and speeds; the same
//! functions run in the simulator (Mars), the silver layer (Jupiter) and the dashboard (Mercury), so their
//! numbers agree.

use serde::{Deserialize, Serialize};

/// Mean Earth radius (IUGG), metres.
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// A WGS 84 position in degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GeoPoint {
    /// Latitude, degrees north, [-90, 90].
    pub lat: f64,
    /// Longitude, degrees east, [-180, 180].
    pub lon: f64,
}

impl GeoPoint {
    /// A point from latitude and longitude in degrees.
    pub const fn new(lat: f64, lon: f64) -> Self {
        Self { lat, lon }
    }
}

/// Great-circle distance in metres (haversine formula, stable for short distances).
pub fn haversine_m(a: GeoPoint, b: GeoPoint) -> f64 {
    let (lat1, lat2) = (a.lat.to_radians(), b.lat.to_radians());
    let d_lat = lat2 - lat1;
    let d_lon = (b.lon - a.lon).to_radians();
    let h = (d_lat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (d_lon / 2.0).sin().powi(2);
    // Rounding can push h a hair above 1 for antipodal points; asin would then return NaN.
    2.0 * EARTH_RADIUS_M * h.sqrt().min(1.0).asin()
}

/// Initial bearing from `from` towards `to`, degrees clockwise from north in [0, 360). 0 when the points coincide.
pub fn bearing_deg(from: GeoPoint, to: GeoPoint) -> f64 {
    let (lat1, lat2) = (from.lat.to_radians(), to.lat.to_radians());
    let d_lon = (to.lon - from.lon).to_radians();
    let y = d_lon.sin() * lat2.cos();
    let x = lat1.cos() * lat2.sin() - lat1.sin() * lat2.cos() * d_lon.cos();
    let degrees = y.atan2(x).to_degrees().rem_euclid(360.0);
    // rem_euclid can return exactly 360.0 for tiny negative inputs.
    if degrees >= 360.0 { 0.0 } else { degrees }
}

/// The point a `fraction` (0 = `a`, 1 = `b`) of the way along the great circle from `a` to `b`.
pub fn interpolate(a: GeoPoint, b: GeoPoint, fraction: f64) -> GeoPoint {
    // The ends exactly, not up to rounding: a vehicle at the end of a segment is at the waypoint.
    let fraction = fraction.clamp(0.0, 1.0);
    if fraction == 0.0 {
        return a;
    }
    if fraction == 1.0 {
        return b;
    }
    let angle = haversine_m(a, b) / EARTH_RADIUS_M;
    if angle < 1e-12 {
        return a;
    }
    let (lat1, lon1) = (a.lat.to_radians(), a.lon.to_radians());
    let (lat2, lon2) = (b.lat.to_radians(), b.lon.to_radians());
    let wa = ((1.0 - fraction) * angle).sin() / angle.sin();
    let wb = (fraction * angle).sin() / angle.sin();
    let x = wa * lat1.cos() * lon1.cos() + wb * lat2.cos() * lon2.cos();
    let y = wa * lat1.cos() * lon1.sin() + wb * lat2.cos() * lon2.sin();
    let z = wa * lat1.sin() + wb * lat2.sin();
    GeoPoint::new(z.atan2(x.hypot(y)).to_degrees(), y.atan2(x).to_degrees())
}

/// Why a polyline could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PolylineError {
    /// A route needs a start and an end.
    #[error("a polyline needs at least 2 points, got {0}")]
    TooFewPoints(usize),
    /// A coordinate is NaN, infinite or out of range.
    #[error("point {index} ({lat}, {lon}) is not a valid latitude/longitude")]
    InvalidPoint {
        /// Position of the point in the input.
        index: usize,
        /// Its latitude.
        lat: f64,
        /// Its longitude.
        lon: f64,
    },
}

/// A route as a sequence of points, with cumulative distances so that positions along it are found in O(log n).
#[derive(Debug, Clone, PartialEq)]
pub struct Polyline {
    points: Vec<GeoPoint>,
    /// `cumulative_m[i]` = distance from the first point to point `i`.
    cumulative_m: Vec<f64>,
}

/// A position on a polyline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PolylinePosition {
    /// Where the position is.
    pub point: GeoPoint,
    /// Direction of travel there, degrees clockwise from north.
    pub bearing_deg: f64,
    /// Index of the segment (its first point) the position lies on.
    pub segment: usize,
}

impl Polyline {
    /// Builds a polyline from at least two valid points.
    pub fn new(points: Vec<GeoPoint>) -> Result<Self, PolylineError> {
        if points.len() < 2 {
            return Err(PolylineError::TooFewPoints(points.len()));
        }
        if let Some((index, p)) = points.iter().enumerate().find(|(_, p)| !is_valid(**p)) {
            return Err(PolylineError::InvalidPoint {
                index,
                lat: p.lat,
                lon: p.lon,
            });
        }
        let mut cumulative_m = Vec::with_capacity(points.len());
        let mut total = 0.0;
        cumulative_m.push(0.0);
        for pair in points.windows(2) {
            total += haversine_m(pair[0], pair[1]);
            cumulative_m.push(total);
        }
        Ok(Self { points, cumulative_m })
    }

    /// The points, in order.
    pub fn points(&self) -> &[GeoPoint] {
        &self.points
    }

    /// Total length in metres.
    pub fn length_m(&self) -> f64 {
        *self
            .cumulative_m
            .last()
            .expect("a polyline has at least two points")
    }

    /// The position `distance_m` metres from the start, clamped to the ends.
    pub fn position_at(&self, distance_m: f64) -> PolylinePosition {
        let distance_m = if distance_m.is_nan() {
            0.0
        } else {
            distance_m.clamp(0.0, self.length_m())
        };
        // The segment whose start is the last point at or before `distance_m`, skipping zero-length segments.
        let last_segment = self.points.len() - 2;
        let segment = self
            .cumulative_m
            .partition_point(|&d| d <= distance_m)
            .saturating_sub(1)
            .min(last_segment);
        let (a, b) = (self.points[segment], self.points[segment + 1]);
        let length = self.cumulative_m[segment + 1] - self.cumulative_m[segment];
        let fraction = if length > 0.0 {
            (distance_m - self.cumulative_m[segment]) / length
        } else {
            1.0
        };
        PolylinePosition {
            point: interpolate(a, b, fraction),
            bearing_deg: bearing_deg(a, b),
            segment,
        }
    }

    /// The distance still to go from `distance_m` to the end, metres.
    pub fn remaining_m(&self, distance_m: f64) -> f64 {
        (self.length_m() - distance_m).max(0.0)
    }
}

fn is_valid(p: GeoPoint) -> bool {
    p.lat.is_finite()
        && p.lon.is_finite()
        && (-90.0..=90.0).contains(&p.lat)
        && (-180.0..=180.0).contains(&p.lon)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ATHENS_SYNTAGMA: GeoPoint = GeoPoint::new(37.9755, 23.7348);
    const ATHENS_ACROPOLIS: GeoPoint = GeoPoint::new(37.9715, 23.7257);

    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() <= tolerance
    }

    #[test]
    fn haversine_matches_known_distances() {
        // One degree of latitude on the mean sphere: 2πR/360.
        let one_degree = haversine_m(GeoPoint::new(0.0, 0.0), GeoPoint::new(1.0, 0.0));
        assert!(close(one_degree, 111_195.08, 0.01), "{one_degree}");
        // Paris → London, the textbook haversine example: 343.56 km on the mean sphere.
        let d = haversine_m(GeoPoint::new(48.8566, 2.3522), GeoPoint::new(51.5074, -0.1278));
        assert!(close(d, 343_556.5, 1.0), "{d}");
        assert_eq!(haversine_m(ATHENS_SYNTAGMA, ATHENS_SYNTAGMA), 0.0);
    }

    #[test]
    fn haversine_of_antipodes_is_half_the_circumference() {
        let d = haversine_m(GeoPoint::new(0.0, 0.0), GeoPoint::new(0.0, 180.0));
        assert!(close(d, std::f64::consts::PI * EARTH_RADIUS_M, 1e-6), "{d}");
    }

    #[test]
    fn bearing_points_to_the_cardinal_directions() {
        let origin = GeoPoint::new(0.0, 0.0);
        assert!(close(bearing_deg(origin, GeoPoint::new(1.0, 0.0)), 0.0, 1e-9));
        assert!(close(bearing_deg(origin, GeoPoint::new(0.0, 1.0)), 90.0, 1e-9));
        assert!(close(bearing_deg(origin, GeoPoint::new(-1.0, 0.0)), 180.0, 1e-9));
        assert!(close(bearing_deg(origin, GeoPoint::new(0.0, -1.0)), 270.0, 1e-9));
        assert_eq!(bearing_deg(origin, origin), 0.0);
    }

    #[test]
    fn interpolate_ends_and_midpoint() {
        assert_eq!(
            interpolate(ATHENS_SYNTAGMA, ATHENS_ACROPOLIS, 0.0),
            ATHENS_SYNTAGMA
        );
        assert_eq!(
            interpolate(ATHENS_SYNTAGMA, ATHENS_ACROPOLIS, 1.0),
            ATHENS_ACROPOLIS
        );
        let mid = interpolate(ATHENS_SYNTAGMA, ATHENS_ACROPOLIS, 0.5);
        let (to_a, to_b) = (
            haversine_m(mid, ATHENS_SYNTAGMA),
            haversine_m(mid, ATHENS_ACROPOLIS),
        );
        assert!(close(to_a, to_b, 1e-6), "{to_a} vs {to_b}");
    }

    #[test]
    fn polyline_positions_along_the_route() {
        let route = Polyline::new(vec![
            GeoPoint::new(0.0, 0.0),
            GeoPoint::new(0.0, 1.0),
            GeoPoint::new(0.0, 1.0), // a repeated point, as real GPS tracks have
            GeoPoint::new(1.0, 1.0),
        ])
        .unwrap();
        let leg = haversine_m(GeoPoint::new(0.0, 0.0), GeoPoint::new(0.0, 1.0));
        assert!(close(route.length_m(), 2.0 * leg, 1e-6));

        let start = route.position_at(-5.0);
        assert_eq!((start.point, start.segment), (GeoPoint::new(0.0, 0.0), 0));
        assert!(close(start.bearing_deg, 90.0, 1e-9));

        let quarter = route.position_at(leg / 2.0);
        assert!(close(quarter.point.lon, 0.5, 1e-9) && close(quarter.point.lat, 0.0, 1e-9));

        let turning = route.position_at(leg + leg / 2.0);
        assert_eq!(turning.segment, 2);
        assert!(close(turning.bearing_deg, 0.0, 1e-9));
        assert!(close(turning.point.lat, 0.5, 1e-9), "{turning:?}");

        let end = route.position_at(f64::INFINITY);
        assert!(haversine_m(end.point, GeoPoint::new(1.0, 1.0)) < 1e-6);
        assert_eq!(route.remaining_m(route.length_m() + 1.0), 0.0);
        assert_eq!(route.position_at(f64::NAN).point, GeoPoint::new(0.0, 0.0));
    }

    #[test]
    fn polyline_rejects_short_or_invalid_input() {
        assert_eq!(
            Polyline::new(vec![ATHENS_SYNTAGMA]),
            Err(PolylineError::TooFewPoints(1))
        );
        let err = Polyline::new(vec![ATHENS_SYNTAGMA, GeoPoint::new(91.0, 0.0)]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "point 1 (91, 0) is not a valid latitude/longitude"
        );
    }
}
