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

/// Where the server pushes a link's view: this, the token, `/live`.
const TRACKING_FEEDS: &str = "/api/v1/track/";

/// The tracking page: loaded with the page, then updated by push as the delivery moves.
#[component]
pub fn TrackPage() -> impl IntoView {
    let params = use_params_map();
    let token = move || params.read().get("token").unwrap_or_default();
    let data = Resource::new(token, tracking);
    let settings = Resource::new(|| (), |_| client_settings());
    let pushed = RwSignal::new(None::<Tracking>);
    Effect::new(move |_| {
        // One link's feed at a time: another token (client-side navigation) replaces it.
        js::unsubscribe(TRACKING_FEEDS);
        let feed = format!("{TRACKING_FEEDS}{}/live", crate::url::encode(&token()));
        js::subscribe(&feed, move |text| {
            if let Ok(tracking) = serde_json::from_str::<Tracking>(&text) {
                pushed.set(Some(tracking));
            }
        });
    });
    on_cleanup(|| js::unsubscribe(TRACKING_FEEDS));
    view! {
        <main class="public">
            <section class="card track">
                <h1>"Track your delivery"</h1>
                <Suspense fallback=super::loading>
                    {move || Suspend::new(async move {
                        let tiles = settings.await.map(|settings| settings.tiles.to_json()).unwrap_or_default();
                        match data.await {
                            Ok(Some(loaded)) => view! { <TrackingView loaded pushed tiles/> }.into_any(),
                            Ok(None) => view! { <p class="notice error" id="not-found">"This tracking link opens no delivery: it is wrong, or the delivery ended a while ago."</p> }.into_any(),
                            Err(_) => view! { <p class="notice error">"Tracking is unavailable right now; try again in a moment."</p> }.into_any(),
                        }
                    })}
                </Suspense>
            </section>
        </main>
    }
}

/// The order's figures (redrawn with each push) over one map that keeps its zoom while the vehicle moves.
#[component]
fn TrackingView(loaded: Tracking, pushed: RwSignal<Option<Tracking>>, tiles: String) -> impl IntoView {
    let current = Memo::new(move |_| pushed.get().unwrap_or_else(|| loaded.clone()));
    Effect::new(move |_| {
        let json = serde_json::to_string(&current.get()).unwrap_or_default();
        js::show_tracking("track-map", &json, &tiles);
    });
    let eta = move || {
        let tracking = current.get();
        match (tracking.status.as_str(), tracking.eta_s) {
            ("completed", _) => "Delivered".to_owned(),
            (_, Some(eta)) => format!("about {}", format::duration(eta as f64)),
            (_, None) => "calculating…".to_owned(),
        }
    };
    view! {
        <p class="order">"Order " <strong id="order-id">{move || current.get().order_id}</strong></p>
        <p>"Status: " <span id="track-status">{move || view! { <StatusBadge status=current.get().status/> }}</span></p>
        <p>"Arrival: " <strong id="track-eta">{eta}</strong></p>
        <p>"Distance to you: " <span id="track-distance">{move || format::distance(current.get().distance_remaining_km, "km")}</span></p>
        <p class="muted">"Updated " <span id="track-updated">{move || format::time(current.get().last_update_ms)}</span></p>
        <div id="track-map" class="map small"></div>
    }
}
