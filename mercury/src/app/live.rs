//! The live map: every vehicle under way, moved by the server's WebSocket feed (see `js/dashboard.js`, which
//! batches updates to animation frames so 10k vehicles stay smooth). Click a vehicle for its details, route,
//! pickup and drop-off.

use leptos::prelude::*;

use super::js;
use super::use_units;
use super::widgets::data_error;
use crate::data::client_settings;

/// The live map page.
#[component]
pub fn LiveMapPage() -> impl IntoView {
    let settings = Resource::new(|| (), |_| client_settings());
    let units = use_units();
    view! {
        <h1>"Live map"</h1>
        <div class="toolbar">
            <label>"Show "
                <select id="live-filter" on:change=move |event| js::set_live_filter(&event_target_value(&event))>
                    <option value="">"all vehicles"</option>
                    <option value="started">"started"</option>
                    <option value="en_route">"en route"</option>
                </select>
            </label>
            <span id="live-count" class="muted"></span>
        </div>
        <Suspense fallback=super::loading>
            {move || {
                let units = units.clone();
                Suspend::new(async move {
                    match settings.await {
                        Ok(settings) => view! { <LiveMap tile_url=settings.tile_url units/> }.into_any(),
                        Err(error) => data_error(&error),
                    }
                })
            }}
        </Suspense>
    }
}

#[component]
fn LiveMap(tile_url: String, units: String) -> impl IntoView {
    Effect::new(move |_| js::start_live_map("live-map", &tile_url, &units));
    view! {
        <div class="map-with-panel">
            <div id="live-map" class="map"></div>
            <aside id="live-details" class="card details"><p class="muted">"Click a vehicle for its details."</p></aside>
        </div>
    }
}
