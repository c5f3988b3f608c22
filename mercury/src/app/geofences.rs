//! Geofences: the areas whose entry and exit raise alerts. Everyone signed in sees them on the map; dispatchers
//! draw circles and polygons (leaflet-geoman), reshape, move and delete them, name them and pick the vehicles
//! they apply to. Every change goes through `/api/v1/geofences` to the compacted topic Jupiter's detector follows
//! (in force there within seconds). See `js/dashboard.js`.

use leptos::prelude::*;

use super::js;
use super::use_user;
use super::widgets::data_error;
use crate::data::client_settings;
use crate::model::Role;

/// The geofences page.
#[component]
pub fn GeofencesPage() -> impl IntoView {
    let settings = Resource::new(|| (), |_| client_settings());
    let can_edit = use_user().is_some_and(|user| user.role >= Role::Dispatcher);
    view! {
        <h1>"Geofences"</h1>
        <Show when=move || can_edit>
            <div class="toolbar" id="geofence-form">
                <label>"Name of the next shape "<input id="geofence-name" type="text" maxlength="200" placeholder="e.g. North depot"/></label>
                <label>"Vehicles "<input id="geofence-vehicles" type="text" placeholder="all (or ids, comma-separated)"/></label>
                <span class="muted">"Draw with the tools on the map; drag or reshape to change, the bin to delete."</span>
            </div>
        </Show>
        <p id="geofence-status" class="muted" role="status"></p>
        <Suspense fallback=super::loading>
            {move || Suspend::new(async move {
                match settings.await {
                    Ok(settings) => view! { <GeofenceMap tiles=settings.tiles.to_json() can_edit/> }.into_any(),
                    Err(error) => data_error(&error),
                }
            })}
        </Suspense>
    }
}

#[component]
fn GeofenceMap(tiles: String, can_edit: bool) -> impl IntoView {
    Effect::new(move |_| js::start_geofence_editor("geofence-map", &tiles, can_edit));
    view! {
        <div class="map-with-panel">
            <div id="geofence-map" class="map"></div>
            <aside class="card details"><h2>"In force"</h2><ul id="geofence-list"></ul></aside>
        </div>
    }
}
