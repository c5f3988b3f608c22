//! The public tracking page `/track/{token}`: no login, reached by the unguessable link a dispatcher copied for
//! the order; shows the order's status, ETA and a map with the vehicle and the destination — nothing that
//! identifies the vehicle, driver or other orders.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use super::format;
use super::js;
use super::widgets::StatusBadge;
use crate::data::{client_settings, tracking};
use crate::model::Tracking;

/// The tracking page.
#[component]
pub fn TrackPage() -> impl IntoView {
    let params = use_params_map();
    let token = move || params.read().get("token").unwrap_or_default();
    let data = Resource::new(token, tracking);
    let settings = Resource::new(|| (), |_| client_settings());
    view! {
        <main class="public">
            <section class="card track">
                <h1>"Track your delivery"</h1>
                <Suspense fallback=super::loading>
                    {move || Suspend::new(async move {
                        let tiles = settings.await.map(|settings| settings.tiles.to_json()).unwrap_or_default();
                        match data.await {
                            Ok(Some(tracking)) => view! { <TrackingView tracking tiles/> }.into_any(),
                            Ok(None) => view! { <p class="notice error" id="not-found">"This tracking link opens no delivery: it is wrong, or the delivery ended a while ago."</p> }.into_any(),
                            Err(_) => view! { <p class="notice error">"Tracking is unavailable right now; try again in a moment."</p> }.into_any(),
                        }
                    })}
                </Suspense>
            </section>
        </main>
    }
}

#[component]
fn TrackingView(tracking: Tracking, tiles: String) -> impl IntoView {
    let json = serde_json::to_string(&tracking).unwrap_or_default();
    Effect::new(move |_| js::show_tracking("track-map", &json, &tiles));
    let eta = match (tracking.status.as_str(), tracking.eta_s) {
        ("completed", _) => "Delivered".to_owned(),
        (_, Some(eta)) => format!("about {}", format::duration(eta as f64)),
        (_, None) => "calculating…".to_owned(),
    };
    view! {
        <p class="order">"Order " <strong id="order-id">{tracking.order_id}</strong></p>
        <p>"Status: " <span id="track-status"><StatusBadge status=tracking.status/></span></p>
        <p>"Arrival: " <strong id="track-eta">{eta}</strong></p>
        <p>"Distance to you: " {format::distance(tracking.distance_remaining_km, "km")}</p>
        <p class="muted">"Updated " {format::time(tracking.last_update_ms)}</p>
        <div id="track-map" class="map small"></div>
    }
}
