//! The overview: today's KPIs against yesterday, the week's distance and sessions, recent sessions, and how
//! fresh each layer of the pipeline is.

use leptos::prelude::*;
use serde_json::json;

use super::format;
use super::use_units;
use super::widgets::{Chart, StatusBadge, data_error};
use crate::data::overview;
use crate::model::{DayOverDay, Overview, SessionRow};

/// The overview page: loaded with the page, then redrawn with each overview the server pushes.
#[component]
pub fn OverviewPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| overview());
    let pushed = super::push::pushed_overview();
    let units = use_units();
    view! {
        <h1>"Fleet overview"</h1>
        <Suspense fallback=super::loading>
            {move || {
                let units = units.clone();
                let newest = pushed.get();
                Suspend::new(async move {
                    let loaded = data.await;
                    match newest.map_or(loaded, Ok) {
                        Ok(overview) => view! { <OverviewView overview units/> }.into_any(),
                        Err(error) => data_error(&error),
                    }
                })
            }}
        </Suspense>
    }
}

#[component]
fn OverviewView(overview: Overview, units: String) -> impl IntoView {
    let labels: Vec<String> = overview.week.iter().map(|day| day.day[5..].to_owned()).collect();
    let distances: Vec<f64> = overview
        .week
        .iter()
        .map(|day| format::in_units(day.distance_km, &units))
        .collect();
    let distance_chart = json!({
        "type": "bar",
        "data": { "labels": labels, "datasets": [{ "label": format!("Distance ({units})"), "data": distances }] },
        "options": { "plugins": { "legend": { "display": false } } }
    });
    let sessions_chart = json!({
        "type": "line",
        "data": { "labels": labels, "datasets": [
            { "label": "Started", "data": overview.week.iter().map(|day| day.started).collect::<Vec<_>>() },
            { "label": "Completed", "data": overview.week.iter().map(|day| day.completed).collect::<Vec<_>>() }
        ] }
    });
    let distance_unit = units.clone();
    view! {
        <section class="kpis">
            <Kpi id="kpi-sessions" title="Sessions today" figures=overview.sessions text=|v| format!("{v:.0}")/>
            <Kpi id="kpi-orders" title="Orders delivered today" figures=overview.orders text=|v| format!("{v:.0}")/>
            <Kpi id="kpi-fleet" title="Vehicles on the road today" figures=overview.fleet text=|v| format!("{v:.0}")/>
            <Kpi id="kpi-distance" title="Distance today" figures=overview.distance_km
                text=move |v| format::distance(v, &distance_unit)/>
        </section>
        <section class="freshness" id="freshness">
            <h2>"Data freshness"</h2>
            <ul>
                {overview.freshness.into_iter().map(|layer| {
                    let name = layer.layer.clone();
                    let age = layer.age_s.map_or("no data".to_owned(), |age| format!("newest event {} ago", format::duration(age)));
                    view! {
                        <li class=format!("light {}", layer.level) data-layer=layer.layer.clone() data-level=layer.level.clone()>
                            <strong>{name}</strong> " " {age}
                        </li>
                    }
                }).collect_view()}
            </ul>
        </section>
        <div class="grid two">
            <section class="card"><h2>"Distance, last 7 days"</h2>
                <Chart id="chart-week-distance" config=distance_chart label="Distance per day"/></section>
            <section class="card"><h2>"Sessions started vs completed"</h2>
                <Chart id="chart-week-sessions" config=sessions_chart label="Sessions per day"/></section>
        </div>
        <section class="card">
            <h2>"Recent sessions"</h2>
            <SessionTable rows=overview.recent units/>
        </section>
    }
}

/// One KPI card: today's figure and the change against yesterday.
#[component]
fn Kpi(
    id: &'static str,
    title: &'static str,
    figures: DayOverDay,
    text: impl Fn(f64) -> String + 'static,
) -> impl IntoView {
    view! {
        <div class="card kpi" id=id>
            <span class="kpi-title">{title}</span>
            <span class="kpi-value">{text(figures.today)}</span>
            <span class="kpi-change">{format::change(figures.today, figures.yesterday)}</span>
        </div>
    }
}

/// A table of sessions linking to their detail.
#[component]
pub fn SessionTable(rows: Vec<SessionRow>, units: String) -> impl IntoView {
    view! {
        <div class="table-x">
        <table class="sessions">
            <thead><tr>
                <th>"Session"</th><th>"Vehicle"</th><th>"Order"</th><th>"Route"</th><th>"Status"</th>
                <th>"Started"</th><th>"Duration"</th><th>"Distance"</th>
            </tr></thead>
            <tbody>
                {rows.into_iter().map(|row| {
                    let href = format!("/sessions/{}", crate::url::encode(&row.session_id));
                    view! {
                        <tr>
                            <td><a href=href>{row.session_id}</a></td>
                            <td>{row.vehicle_id}</td>
                            <td>{row.order_id}</td>
                            <td class="route">{row.route_name}</td>
                            <td><StatusBadge status=row.status/></td>
                            <td>{format::time(row.started_at_ms)}</td>
                            <td>{format::duration(row.duration_s)}</td>
                            <td>{format::distance(row.distance_km, &units)}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        </div>
    }
}
