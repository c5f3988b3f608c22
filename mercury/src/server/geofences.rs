//! Geofences: the areas dispatchers draw, kept in the compacted `geofences` topic (key = geofence id, JSON
//! [`Geofence`], a tombstone deletes) that Jupiter's detector follows. Mercury follows the same topic (every
//! instance, from its beginning) for the list it serves, and writes to it; a write is answered once Mercury's own
//! follower has read it back, so a GET right after shows it. The JSON API speaks GeoJSON: a polygon is a
//! `Polygon` (one ring, closed), a circle a `Point` with `properties.radius_m` (how Leaflet drawing tools export
//! circles).

use crate::server::openapi::ApiErrorBody;
use axum::Json;
use axum::extract::{Path, State};
use packetpulse_model::{GeoPoint, Geofence, GeofenceShape};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::api_error::ApiError;
use super::compacted_store::CompactedStore;
use super::state::AppState;

/// The geofences in force and the way to change them.
#[derive(Clone)]
pub struct Geofences(CompactedStore<Geofence>);

impl Geofences {
    /// A store writing to `topic` on `bootstrap_servers`; empty until [`Geofences::follow`] has read the topic.
    pub fn new(bootstrap_servers: &str, topic: &str) -> Result<Self, String> {
        CompactedStore::new(bootstrap_servers, topic, "geofence", Geofence::from_record).map(Self)
    }

    /// Creates the topic if missing, reads it to its end, then follows it until `shutdown`.
    pub async fn follow(self, bootstrap_servers: String, shutdown: CancellationToken) {
        self.0
            .follow(bootstrap_servers, "mercury-geofences", shutdown)
            .await;
    }

    /// Every geofence in force.
    pub fn list(&self) -> Result<Vec<Geofence>, ApiError> {
        Ok(self.0.rows()?.into_iter().map(|(_, fence)| fence).collect())
    }

    /// Puts `fence` in force (new or replacing the one with its id); answered once read back.
    pub async fn put(&self, fence: &Geofence) -> Result<(), ApiError> {
        if let Some(problem) = fence.problem() {
            return Err(ApiError::BadRequest(problem));
        }
        self.0.put(&fence.id, fence).await
    }

    /// Deletes the geofence `id` (not found if there is none); answered once read back.
    pub async fn delete(&self, id: &str) -> Result<(), ApiError> {
        self.0.delete(id, "geofence").await
    }
}

/// A geofence as a GeoJSON Feature.
pub fn feature(fence: &Geofence) -> Value {
    let (geometry, radius) = match &fence.shape {
        GeofenceShape::Circle { center, radius_m } => (
            json!({"type": "Point", "coordinates": [center.lon, center.lat]}),
            Some(*radius_m),
        ),
        GeofenceShape::Polygon { ring } => {
            let mut coordinates: Vec<[f64; 2]> = ring.iter().map(|point| [point.lon, point.lat]).collect();
            if let Some(first) = coordinates.first().copied() {
                coordinates.push(first);
            }
            (json!({"type": "Polygon", "coordinates": [coordinates]}), None)
        }
    };
    let mut properties = json!({"name": fence.name, "vehicles": fence.vehicles});
    if let Some(radius) = radius {
        properties["radius_m"] = json!(radius);
    }
    json!({"type": "Feature", "id": fence.id, "geometry": geometry, "properties": properties})
}

/// The body of a `PUT`: a GeoJSON Feature.
#[derive(Debug, Deserialize)]
pub struct FeatureBody {
    geometry: Geometry,
    properties: Properties,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type")]
enum Geometry {
    Point { coordinates: [f64; 2] },
    Polygon { coordinates: Vec<Vec<[f64; 2]>> },
}

#[derive(Debug, Deserialize)]
struct Properties {
    name: String,
    radius_m: Option<f64>,
    vehicles: Option<Vec<String>>,
}

/// The geofence `id` a Feature describes, or why it cannot be one.
pub fn from_feature(id: &str, body: FeatureBody) -> Result<Geofence, ApiError> {
    let shape = match body.geometry {
        Geometry::Point {
            coordinates: [lon, lat],
        } => GeofenceShape::Circle {
            center: GeoPoint::new(lat, lon),
            radius_m: body.properties.radius_m.ok_or_else(|| {
                ApiError::BadRequest(
                    "a Point geofence is a circle: properties.radius_m (metres) is required".into(),
                )
            })?,
        },
        Geometry::Polygon { coordinates } => {
            let [ring] = <[Vec<[f64; 2]>; 1]>::try_from(coordinates).map_err(|_| {
                ApiError::BadRequest("a Polygon geofence has exactly one ring (no holes)".into())
            })?;
            let mut ring: Vec<GeoPoint> = ring
                .into_iter()
                .map(|[lon, lat]| GeoPoint::new(lat, lon))
                .collect();
            // GeoJSON closes the ring; the model does not repeat the first corner.
            if ring.len() > 1 && ring.first() == ring.last() {
                ring.pop();
            }
            GeofenceShape::Polygon { ring }
        }
    };
    Ok(Geofence {
        id: id.to_owned(),
        name: body.properties.name,
        shape,
        vehicles: body.properties.vehicles.filter(|vehicles| !vehicles.is_empty()),
    })
}

/// `GET /api/v1/geofences`: a GeoJSON FeatureCollection (viewers).
#[utoipa::path(get, path = "/geofences", summary = "Every geofence, as GeoJSON", tag = "geofences",
    responses((status = 200, description = "A GeoJSON FeatureCollection: circles are Points with `properties.radius_m`, polygons one ring", body = Object)))]
pub async fn get_geofences(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let features: Vec<Value> = state.geofences.list()?.iter().map(feature).collect();
    Ok(Json(json!({"type": "FeatureCollection", "features": features})))
}

/// `PUT /api/v1/geofences/{id}`: creates or replaces a geofence from a GeoJSON Feature (dispatchers).
#[utoipa::path(put, path = "/geofences/{id}", summary = "Creates or replaces a geofence from a GeoJSON Feature", tag = "geofences",
    params(("id" = String, Path, description = "The geofence id (the caller chooses it)")),
    request_body(content = Object, description = "A GeoJSON Feature: a Point with `properties.radius_m` (metres) or a Polygon of one ring; `properties.name`, and `properties.vehicles` (omitted or empty: every vehicle)"),
    responses(
        (status = 200, description = "The stored geofence as a Feature", body = Object),
        (status = 400, description = "Not a geofence Feature (the message says why)", body = ApiErrorBody)))]
pub async fn put_geofence(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Result<Json<FeatureBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(body) =
        body.map_err(|rejection| ApiError::BadRequest(format!("not a geofence Feature: {rejection}")))?;
    let fence = from_feature(&id, body)?;
    state.geofences.put(&fence).await?;
    tracing::info!(geofence = %fence.id, name = %fence.name, "geofence saved");
    Ok(Json(feature(&fence)))
}

/// `DELETE /api/v1/geofences/{id}` (dispatchers).
#[utoipa::path(delete, path = "/geofences/{id}", summary = "Deletes a geofence", tag = "geofences",
    params(("id" = String, Path, description = "The geofence id")),
    responses((status = 204, description = "Deleted (also when there was none)")))]
pub async fn delete_geofence(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<axum::http::StatusCode, ApiError> {
    state.geofences.delete(&id).await?;
    tracing::info!(geofence = %id, "geofence deleted");
    Ok(axum::http::StatusCode::NO_CONTENT)
}
