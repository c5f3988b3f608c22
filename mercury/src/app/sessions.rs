//! Sessions: a searchable, paginated list, and a session's detail with its track on the map, a replay slider
//! and the status timeline.

use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::format;
use super::js;
use super::overview::SessionTable;
use super::widgets::{Pager, StatusBadge, data_error};
use super::{use_units, use_user};
use crate::data::{client_settings, session, sessions};
use crate::model::{Role, SessionDetail};
use crate::url::encode;

/// The sessions list.
#[component]
pub fn SessionsPage() -> impl IntoView {
    let query = use_query_map();
    let filter = move || {
        let query = query.read();
        (
            query.get("q").unwrap_or_default(),
            query.get("status").unwrap_or_default(),
            query
                .get("page")
                .and_then(|page| page.parse().ok())
                .unwrap_or(1u32),
        )
    };
    let data = Resource::new(filter, |(q, status, page)| sessions(q, status, page));
    let units = use_units();
    view! {
        <h1>"Sessions"</h1>
        <form method="get" action="/sessions" class="toolbar" id="session-search">
            <input type="search" name="q" aria-label="Search sessions" placeholder="Session, vehicle, order or route" value=move || filter().0/>
            <select name="status" aria-label="Status">
                {[("", "any status"), ("started", "started"), ("en_route", "en route"), ("completed", "completed")]
                    .into_iter()
                    .map(|(value, label)| view! { <option value=value selected=move || filter().1 == value>{label}</option> })
                    .collect_view()}
            </select>
            <button type="submit">"Search"</button>
        </form>
        <Suspense fallback=super::loading>
            {move || {
                let units = units.clone();
                let (q, status, _) = filter();
                Suspend::new(async move {
                    match data.await {
                        Ok(page) => view! {
                            <SessionTable rows=page.rows units/>
                            <Pager base=format!("/sessions?q={}&status={}&", encode(&q), encode(&status))
                                page=page.page per_page=page.per_page total=page.total/>
                        }.into_any(),
                        Err(error) => data_error(&error),
                    }
                })
            }}
        </Suspense>
    }
}

/// One session.
#[component]
pub fn SessionPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let data = Resource::new(id, session);
    let settings = Resource::new(|| (), |_| client_settings());
    let units = use_units();
    view! {
        <Suspense fallback=super::loading>
            {move || {
                let units = units.clone();
                Suspend::new(async move {
                    let tiles = settings.await.map(|settings| settings.tiles.to_json()).unwrap_or_default();
                    match data.await {
                        Ok(Some(detail)) => view! { <SessionView detail tiles units/> }.into_any(),
                        Ok(None) => view! { <p class="notice error">"No such session."</p> }.into_any(),
                        Err(error) => data_error(&error),
                    }
                })
            }}
        </Suspense>
    }
}

#[component]
fn SessionView(detail: SessionDetail, tiles: String, units: String) -> impl IntoView {
    let json = serde_json::to_string(&detail).unwrap_or_default();
    Effect::new(move |_| js::show_track("track-map", &json, &tiles));
    let summary = detail.summary;
    let last_index = detail.track.len().saturating_sub(1);
    view! {
        <h1>"Session " <span id="session-id">{summary.session_id.clone()}</span></h1>
        <section class="kpis">
            <div class="card kpi"><span class="kpi-title">"Status"</span><span class="kpi-value"><StatusBadge status=summary.status.clone()/></span></div>
            <div class="card kpi"><span class="kpi-title">"Vehicle"</span><span class="kpi-value small">{summary.vehicle_id.clone()}</span></div>
            <div class="card kpi"><span class="kpi-title">"Order"</span><span class="kpi-value small">{summary.order_id.clone()}</span></div>
            <div class="card kpi"><span class="kpi-title">"Distance"</span><span class="kpi-value">{format::distance(summary.distance_km, &units)}</span></div>
            <div class="card kpi"><span class="kpi-title">"Duration"</span><span class="kpi-value">{format::duration(summary.duration_s)}</span></div>
        </section>
        <p class="route">"Route: " {summary.route_name.clone()}</p>
        <TrackingLink order_id=summary.order_id.clone()/>
        <div id="track-map" class="map"></div>
        <div class="replay">
            <button type="button" id="replay-play" on:click=|_| js::replay_play("replay")>"▶ Replay"</button>
            <input type="range" id="replay" aria-label="Replay position" min="0" max=last_index.to_string() value="0"
                on:input=|event| js::replay_to(event_target_value(&event).parse().unwrap_or(0))/>
            <span id="replay-time" class="muted"></span>
        </div>
        <section class="card">
            <h2>"Timeline"</h2>
            <ol class="timeline" id="timeline">
                {detail.timeline.into_iter().map(|entry| view! {
                    <li><StatusBadge status=entry.status/> " " {format::time(entry.at_ms)}</li>
                }).collect_view()}
            </ol>
            <p class="muted">{format!("{} points recorded", detail.track.len())}</p>
        </section>
    }
}

/// For dispatchers: the order's public tracking link, to copy into a message to the customer.
#[component]
fn TrackingLink(order_id: String) -> impl IntoView {
    let dispatcher = use_user().is_some_and(|user| user.role >= Role::Dispatcher);
    let link = ServerAction::<crate::data::TrackingLink>::new();
    let value = link.value();
    view! {
        <Show when=move || dispatcher>
            <div class="tracking-link">
                <button type="button" id="tracking-link"
                    on:click={
                        let order_id = order_id.clone();
                        move |_| {
                            link.dispatch(crate::data::TrackingLink { order_id: order_id.clone() });
                        }
                    }>"Customer tracking link"</button>
                {move || value.get().map(|result| match result {
                    Ok(url) => view! { <input type="text" readonly id="tracking-url" aria-label="Tracking link" value=url/> }.into_any(),
                    Err(error) => view! { <span class="notice error">{error.to_string()}</span> }.into_any(),
                })}
            </div>
        </Show>
    }
}
