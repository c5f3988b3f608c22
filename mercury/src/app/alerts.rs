//! The alerts page: what Jupiter's detector raised over the last day (silver's `alerts`), filtered by kind,
//! vehicle and state, newest first; dispatchers acknowledge them here. New alerts also arrive on every page as a
//! toast and the counter in the top bar (`js/dashboard.js`, the alerts WebSocket).

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::format;
use super::use_user;
use super::widgets::{Pager, data_error};
use crate::data::{acknowledge_alert, alerts};
use crate::model::Role;
use crate::url::encode;

/// The kinds, as the filter offers them.
pub(super) const KINDS: [(&str, &str); 6] = [
    ("geofence_enter", "geofence enter"),
    ("geofence_exit", "geofence exit"),
    ("overspeed", "overspeed"),
    ("idle", "idle"),
    ("offline", "offline"),
    ("abandoned", "abandoned"),
];

/// The alerts page.
#[component]
pub fn AlertsPage() -> impl IntoView {
    let query = use_query_map();
    let filter = move || {
        let query = query.read();
        (
            query.get("kind").unwrap_or_default(),
            query.get("vehicle").unwrap_or_default(),
            query.get("state").unwrap_or_default(),
            query
                .get("page")
                .and_then(|page| page.parse().ok())
                .unwrap_or(1u32),
        )
    };
    let acknowledged = RwSignal::new(0u32);
    let data = Resource::new(
        move || (filter(), acknowledged.get()),
        |((kind, vehicle, state, page), _)| alerts(kind, vehicle, state, page),
    );
    let dispatcher = use_user().is_some_and(|user| user.role >= Role::Dispatcher);
    view! {
        <h1>"Alerts"</h1>
        <form method="get" action="/alerts" class="toolbar" id="alert-filters">
            <label>"Kind "
                <select name="kind" id="alert-kind" aria-label="Kind">
                    <option value="">"all"</option>
                    {KINDS.iter().map(|(value, label)| {
                        let selected = move || filter().0 == *value;
                        view! { <option value=*value selected=selected>{*label}</option> }
                    }).collect_view()}
                </select>
            </label>
            <input type="search" name="vehicle" id="alert-vehicle" aria-label="Vehicle" placeholder="Vehicle id" value=move || filter().1/>
            <label>"State "
                <select name="state" id="alert-state" aria-label="State">
                    <option value="">"all"</option>
                    <option value="open" selected=move || filter().2 == "open">"open"</option>
                    <option value="acknowledged" selected=move || filter().2 == "acknowledged">"acknowledged"</option>
                </select>
            </label>
            <button type="submit">"Filter"</button>
        </form>
        <Suspense fallback=super::loading>
            {move || {
                let (kind, vehicle, state, _) = filter();
                Suspend::new(async move {
                    let page = match data.await {
                        Ok(page) => page,
                        Err(error) => return data_error(&error),
                    };
                    let base = format!(
                        "/alerts?kind={}&vehicle={}&state={}&",
                        encode(&kind),
                        encode(&vehicle),
                        encode(&state)
                    );
                    view! {
                        <p class="muted" id="alert-total">{format!("{} alerts in the last day", page.total)}</p>
                        <div class="table-x"><table id="alerts">
                            <thead><tr><th>"When"</th><th>"Kind"</th><th>"Vehicle"</th><th>"What"</th>
                                <th>"State"</th></tr></thead>
                            <tbody>
                                {page.rows.into_iter().map(|alert| {
                                    let session = format!("/sessions/{}", encode(&alert.session_id));
                                    let id = alert.alert_id.clone();
                                    let state = if alert.acknowledged_by.is_empty() && alert.acknowledged_at_ms == 0 {
                                        if dispatcher {
                                            view! {
                                                <button class="ack" data-alert=id.clone() on:click=move |_| {
                                                    let id = id.clone();
                                                    leptos::task::spawn_local(async move {
                                                        if acknowledge_alert(id).await.is_ok() {
                                                            acknowledged.update(|n| *n += 1);
                                                        }
                                                    });
                                                }>"Acknowledge"</button>
                                            }.into_any()
                                        } else {
                                            view! { <span>"open"</span> }.into_any()
                                        }
                                    } else {
                                        view! { <span class="muted">{format!("acknowledged by {}", alert.acknowledged_by)}</span> }.into_any()
                                    };
                                    view! { <tr data-alert=alert.alert_id.clone() data-kind=alert.kind.clone()>
                                        <td>{format::time(alert.at_ms)}</td>
                                        <td>{alert.kind.replace('_', " ")}</td>
                                        <td><a href=session>{alert.vehicle_id}</a></td>
                                        <td>{alert.message}</td>
                                        <td>{state}</td>
                                    </tr> }
                                }).collect_view()}
                            </tbody>
                        </table></div>
                        <Pager base page=page.page per_page=page.per_page total=page.total/>
                    }.into_any()
                })
            }}
        </Suspense>
        <super::alert_rules::AlertRulesCard/>
    }
}
