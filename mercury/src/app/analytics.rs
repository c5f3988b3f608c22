//! Analytics over a period (day, week, month, year): completion rate, peak hours, average duration and
//! distance, duration distribution, order latency, top vehicles.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use serde_json::json;

use super::format;
use super::use_units;
use super::widgets::{Chart, data_error};
use crate::data::analytics;
use crate::model::{Analytics, Bucket};

const PERIODS: [(&str, &str); 4] = [
    ("day", "Day"),
    ("week", "Week"),
    ("month", "Month"),
    ("year", "Year"),
];

/// The analytics page.
#[component]
pub fn AnalyticsPage() -> impl IntoView {
    let query = use_query_map();
    let period = move || query.read().get("period").unwrap_or_else(|| "week".to_owned());
    let data = Resource::new(period, analytics);
    let units = use_units();
    view! {
        <h1>"Analytics"</h1>
        <nav class="tabs" id="periods">
            {PERIODS.into_iter().map(|(key, label)| {
                let class = move || if period() == key { "tab active" } else { "tab" };
                view! { <a class=class href=format!("/analytics?period={key}")>{label}</a> }
            }).collect_view()}
        </nav>
        <Suspense fallback=super::loading>
            {move || {
                let units = units.clone();
                Suspend::new(async move {
                    match data.await {
                        Ok(analytics) => view! { <AnalyticsView analytics units/> }.into_any(),
                        Err(error) => data_error(&error),
                    }
                })
            }}
        </Suspense>
    }
}

fn bar_chart(label: &str, buckets: &[Bucket]) -> serde_json::Value {
    json!({
        "type": "bar",
        "data": {
            "labels": buckets.iter().map(|bucket| bucket.label.clone()).collect::<Vec<_>>(),
            "datasets": [{ "label": label, "data": buckets.iter().map(|bucket| bucket.count).collect::<Vec<_>>() }]
        },
        "options": { "plugins": { "legend": { "display": false } } }
    })
}

#[component]
fn AnalyticsView(analytics: Analytics, units: String) -> impl IntoView {
    let [p50, p90, p99] = analytics.order_latency_s;
    let hours = bar_chart("Sessions", &analytics.peak_hours);
    let durations = bar_chart("Deliveries", &analytics.duration_distribution);
    view! {
        <section class="kpis" id="analytics-figures">
            <div class="card kpi"><span class="kpi-title">"Completion rate"</span>
                <span class="kpi-value" id="completion-rate">{format!("{:.1} %", analytics.completion_rate * 100.0)}</span>
                <span class="kpi-change">{format!("{} of {} sessions", analytics.completed, analytics.sessions)}</span></div>
            <div class="card kpi"><span class="kpi-title">"Average duration"</span>
                <span class="kpi-value">{format::duration(analytics.avg_duration_s)}</span></div>
            <div class="card kpi"><span class="kpi-title">"Average distance"</span>
                <span class="kpi-value">{format::distance(analytics.avg_distance_km, &units)}</span></div>
            <div class="card kpi"><span class="kpi-title">"Order latency p50 / p90 / p99"</span>
                <span class="kpi-value small">{format!("{} / {} / {}", format::duration(p50), format::duration(p90), format::duration(p99))}</span></div>
        </section>
        <div class="grid two">
            <section class="card"><h2>"Peak hours (UTC)"</h2><Chart id="chart-peak-hours" config=hours label="Sessions per hour of day"/></section>
            <section class="card"><h2>"Delivery duration"</h2><Chart id="chart-durations" config=durations label="Deliveries by duration"/></section>
        </div>
        <section class="card">
            <h2>"Top vehicles"</h2>
            <table id="top-vehicles">
                <thead><tr><th>"Vehicle"</th><th>"Deliveries"</th><th>"Distance"</th></tr></thead>
                <tbody>
                    {analytics.top_vehicles.into_iter().map(|vehicle| {
                        let href = format!("/sessions?q={}", crate::url::encode(&vehicle.vehicle_id));
                        view! { <tr>
                            <td><a href=href>{vehicle.vehicle_id}</a></td>
                            <td>{vehicle.completed}</td>
                            <td>{format::distance(vehicle.distance_km, &units)}</td>
                        </tr> }
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}
