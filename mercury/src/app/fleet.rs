//! The fleet: one row per vehicle from the gold `fleet_summary` model, searchable, with links to its sessions.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::format;
use super::use_units;
use super::widgets::{Pager, data_error};
use crate::data::fleet;
use crate::url::encode;

/// The fleet page.
#[component]
pub fn FleetPage() -> impl IntoView {
    let query = use_query_map();
    let filter = move || {
        let query = query.read();
        (
            query.get("q").unwrap_or_default(),
            query
                .get("page")
                .and_then(|page| page.parse().ok())
                .unwrap_or(1u32),
        )
    };
    let data = Resource::new(filter, |(q, page)| fleet(q, page));
    let units = use_units();
    view! {
        <h1>"Fleet"</h1>
        <form method="get" action="/fleet" class="toolbar">
            <input type="search" name="q" aria-label="Search vehicles" placeholder="Vehicle id" value=move || filter().0/>
            <button type="submit">"Search"</button>
        </form>
        <Suspense fallback=super::loading>
            {move || {
                let units = units.clone();
                let q = filter().0;
                Suspend::new(async move {
                    let page = match data.await {
                        Ok(page) => page,
                        Err(error) => return data_error(&error),
                    };
                    view! {
                        <div class="table-x"><table id="fleet">
                            <thead><tr><th>"Vehicle"</th><th>"State"</th><th>"Trips"</th><th>"Completed"</th>
                                <th>"Distance"</th><th>"Last seen"</th><th></th></tr></thead>
                            <tbody>
                                {page.rows.into_iter().map(|row| {
                                    let sessions = format!("/sessions?q={}", encode(&row.vehicle_id));
                                    view! { <tr>
                                        <td>{row.vehicle_id}</td>
                                        <td>{if row.active == 1 { "active" } else { "idle" }}</td>
                                        <td>{row.trips}</td>
                                        <td>{row.completed_trips}</td>
                                        <td>{format::distance(row.total_km, &units)}</td>
                                        <td>{format::time(row.last_update_ms)}</td>
                                        <td><a href=sessions>"Sessions"</a></td>
                                    </tr> }
                                }).collect_view()}
                            </tbody>
                        </table></div>
                        <Pager base=format!("/fleet?q={}&", encode(&q)) page=page.page per_page=page.per_page total=page.total/>
                    }.into_any()
                })
            }}
        </Suspense>
    }
}
