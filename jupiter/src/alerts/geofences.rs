//! Which geofences hold a point: an R-tree of their bounding boxes (rstar) narrows 1,000s of geofences to the
//! few whose box holds the point, and only those are tested exactly.

use packetpulse_model::{GeoPoint, Geofence};
use rstar::{AABB, RTree, RTreeObject};

/// One geofence's box in the tree, `[lon, lat]`.
struct Entry {
    envelope: AABB<[f64; 2]>,
    index: usize,
}

impl RTreeObject for Entry {
    type Envelope = AABB<[f64; 2]>;

    fn envelope(&self) -> Self::Envelope {
        self.envelope
    }
}

/// The geofences in force, indexed by area.
pub struct GeofenceIndex {
    fences: Vec<Geofence>,
    tree: RTree<Entry>,
}

impl GeofenceIndex {
    /// Indexes `fences`.
    pub fn new(fences: Vec<Geofence>) -> Self {
        let entries = fences
            .iter()
            .enumerate()
            .map(|(index, fence)| {
                let bounds = fence.shape.bounding_box();
                Entry {
                    envelope: AABB::from_corners(
                        [bounds.min.lon, bounds.min.lat],
                        [bounds.max.lon, bounds.max.lat],
                    ),
                    index,
                }
            })
            .collect();
        Self {
            fences,
            tree: RTree::bulk_load(entries),
        }
    }

    /// The geofences that apply to `vehicle_id` and hold `point`.
    pub fn containing<'a>(
        &'a self,
        point: GeoPoint,
        vehicle_id: &'a str,
    ) -> impl Iterator<Item = &'a Geofence> {
        self.tree
            .locate_in_envelope_intersecting(&AABB::from_point([point.lon, point.lat]))
            .map(|entry| &self.fences[entry.index])
            .filter(move |fence| fence.applies_to(vehicle_id) && fence.shape.contains(point))
    }

    /// How many geofences are in force.
    pub fn len(&self) -> usize {
        self.fences.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.fences.is_empty()
    }
}
