//! The live map: every vehicle under way, moved by the server's WebSocket feed (see `js/dashboard.js`, which
//! batches updates to animation frames so 10k vehicles stay smooth). Click a vehicle for its details, route,
//! pickup and drop-off; find one by vehicle, session or order id, follow it, re-centre on the fleet; the legend
//! says what the colours mean. Under the map, the active deliveries board lists the same vehicles (filled and kept
//! live by the same script): sortable, searchable, a row's click focuses its vehicle on the map.

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
            <MapTools/>
        </div>
        <Suspense fallback=super::loading>
            {move || {
                let units = units.clone();
                Suspend::new(async move {
                    match settings.await {
                        Ok(settings) => view! { <LiveMap tiles=settings.tiles.to_json() units/> }.into_any(),
                        Err(error) => data_error(&error),
                    }
                })
            }}
        </Suspense>
    }
}

#[component]
fn LiveMap(tiles: String, units: String) -> impl IntoView {
    Effect::new(move |_| js::start_live_map("live-map", &tiles, &units));
    view! {
        <div class="map-with-panel">
            <div id="live-map" class="map"></div>
            <aside id="live-details" class="card details"><p class="muted">"Click a vehicle for its details."</p></aside>
        </div>
        <ActiveDeliveriesBoard/>
    }
}

/// Find a delivery on the map, follow the selected vehicle, bring every vehicle back into view (wired by
/// `js/dashboard.js`, `startMapTools`).
#[component]
fn MapTools() -> impl IntoView {
    view! {
        <form id="map-find" role="search" class="find">
            <input type="search" name="q" placeholder="Find vehicle, session or order" aria-label="Find on the map"/>
            <button type="submit">"Find"</button>
        </form>
        <span id="map-find-status" class="muted" role="status"></span>
        <button id="live-follow" type="button" aria-pressed="false" disabled
            title="Keep the selected vehicle in the middle of the map">"Follow"</button>
        <button id="live-recentre" type="button" title="Show every vehicle">"Re-centre"</button>
    }
    .into_any()
}

/// The board's frame; `js/dashboard.js` fills the rows and handles sorting, search and clicks.
#[component]
fn ActiveDeliveriesBoard() -> impl IntoView {
    let column = |key: &'static str, label: &'static str| {
        let sorted = if key == "vehicle_id" { "ascending" } else { "none" };
        view! { <th data-sort=key aria-sort=sorted><button type="button" class="link">{label}</button></th> }
            .into_any()
    };
    view! {
        <section class="card board" aria-labelledby="board-title">
            <div class="toolbar">
                <h2 id="board-title">"Active deliveries"</h2>
                <input id="board-search" type="search" placeholder="Vehicle, session or order id"
                    aria-label="Search active deliveries"/>
                <span id="board-count" class="muted" aria-live="polite"></span>
            </div>
            <div class="table-scroll">
                <table id="live-board" data-rows="0">
                    <thead>
                        <tr>
                            {column("vehicle_id", "Vehicle")}
                            {column("status", "Status")}
                            {column("remaining", "Remaining")}
                            {column("eta", "ETA")}
                            {column("elapsed", "Elapsed")}
                            {column("age", "Last update")}
                        </tr>
                    </thead>
                    <tbody></tbody>
                </table>
            </div>
        </section>
    }
    // Type-erased: the nested view type otherwise overflows the compiler's query depth in some builds.
    .into_any()
}
