//! Analytics over a period (the last 24 hours, 7, 30 or 365 days, or today, this week, month or year): completion
//! rate, average duration and distance, order latency, the peak hour, the fleet's status now, completion time
//! step by step, peak hours, duration distribution, top vehicles.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use serde_json::json;

use super::format;
use super::use_units;
use super::widgets::{Chart, data_error};
use crate::data::analytics;
use crate::model::{ANALYTICS_PERIODS, Analytics, Bucket, CompletionStep};

/// The analytics page.
#[component]
pub fn AnalyticsPage() -> impl IntoView {
    let query = use_query_map();
    let period = move || query.read().get("period").unwrap_or_else(|| "week".to_owned());
    // Reloaded when the pushed overview says silver or gold has newer data (gold rebuilds every 10 s).
    let version = super::push::warehouse_version(super::push::pushed_overview());
    let data = Resource::new(move || (period(), version.get()), |(period, _)| analytics(period));
    let units = use_units();
    view! {
        <h1>"Analytics"</h1>
        <nav class="tabs" id="periods" aria-label="Period">
            {ANALYTICS_PERIODS.into_iter().enumerate().map(|(index, (key, label))| {
                let class = move || if period() == key { "tab active" } else { "tab" };
                let current = move || (period() == key).then_some("page");
                // Rolling periods first, then calendar ones (UTC), each group introduced.
                let group = match index {
                    0 => Some("Rolling"),
                    4 => Some("Calendar (UTC)"),
                    _ => None,
                };
                view! {
                    {group.map(|group| view! { <span class="tabs-group muted">{group}</span> })}
                    <a class=class aria-current=current href=format!("/analytics?period={key}")>{label}</a>
                }
            }).collect_view()}
        </nav>
        <Transition fallback=super::loading>
            {move || {
                let units = units.clone();
                Suspend::new(async move {
                    match data.await {
                        Ok(analytics) => view! { <AnalyticsView analytics units/> }.into_any(),
                        Err(error) => data_error(&error),
                    }
                })
            }}
        </Transition>
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

/// Average completion time per step, in minutes (steps without deliveries are gaps), and the deliveries.
fn completion_chart(steps: &[CompletionStep]) -> serde_json::Value {
    json!({
        "type": "line",
        "data": {
            "labels": steps.iter().map(|step| step.label.clone()).collect::<Vec<_>>(),
            "datasets": [{
                "label": "Average completion time (min)",
                "data": steps.iter().map(|step| step.avg_duration_s.map(|s| (s / 6.0).round() / 10.0)).collect::<Vec<_>>(),
                "spanGaps": false,
            }, {
                "label": "Deliveries",
                "type": "bar",
                "yAxisID": "count",
                "data": steps.iter().map(|step| step.completed).collect::<Vec<_>>(),
            }]
        },
        "options": { "scales": {
            "y": { "title": { "display": true, "text": "minutes" }, "beginAtZero": true },
            "count": { "position": "right", "beginAtZero": true, "grid": { "drawOnChartArea": false },
                       "title": { "display": true, "text": "deliveries" } }
        } }
    })
}

/// `17:00–18:00`, from the hour's `17:00`.
fn hour_range(label: &str) -> String {
    let next = label
        .get(..2)
        .and_then(|hour| hour.parse::<u8>().ok())
        .map_or_else(String::new, |hour| format!("{:02}:00", (hour + 1) % 24));
    format!("{label}–{next}")
}

#[component]
fn AnalyticsView(analytics: Analytics, units: String) -> impl IntoView {
    let [p50, p90, p99] = analytics.order_latency_s;
    let hours = bar_chart("Sessions", &analytics.peak_hours);
    let durations = bar_chart("Deliveries", &analytics.duration_distribution);
    let completion = completion_chart(&analytics.completion_time);
    let fleet = analytics.fleet_status;
    let (peak, peak_sessions) = analytics.peak_hour.map_or_else(
        || ("—".to_owned(), "no sessions".to_owned()),
        |hour| (hour_range(&hour.label), format!("{} sessions", hour.count)),
    );
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
            <div class="card kpi"><span class="kpi-title">"Peak hour (UTC)"</span>
                <span class="kpi-value" id="peak-hour">{peak}</span>
                <span class="kpi-change">{peak_sessions}</span></div>
            <div class="card kpi" id="fleet-status"><span class="kpi-title">"Fleet now"</span>
                <span class="kpi-value small">
                    <span class="light green" data-status="active">{format!("{} active", fleet.active)}</span>" "
                    <span class="light amber" data-status="idle">{format!("{} idle", fleet.idle)}</span>" "
                    <span class="light red" data-status="offline">{format!("{} offline", fleet.offline)}</span>
                </span>
                <span class="kpi-change">"active: on a delivery, heard from in 5 min; idle: heard from in 10 min; offline: silent longer"</span></div>
        </section>
        <section class="card"><h2>"Completion time"</h2>
            <Chart id="chart-completion-time" config=completion label="Average completion time and deliveries per step"/></section>
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
