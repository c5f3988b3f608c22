//! Reports: trips, stops, the daily summary per vehicle and alerts, for a vehicle (or all) over a range of UTC
//! days; the first 200 rows as a table, every row through the CSV export (streamed by the server).

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::widgets::data_error;
use crate::data::report;
use crate::model::REPORT_KINDS;
use crate::url::encode;

/// The reports page.
#[component]
pub fn ReportsPage() -> impl IntoView {
    let query = use_query_map();
    let filter = move || {
        let query = query.read();
        let kind = query
            .get("kind")
            .filter(|kind| REPORT_KINDS.iter().any(|(name, _)| name == kind))
            .unwrap_or_else(|| "trips".to_owned());
        (
            kind,
            query.get("vehicle").unwrap_or_default(),
            query.get("from").unwrap_or_default(),
            query.get("to").unwrap_or_default(),
        )
    };
    let data = Resource::new(filter, |(kind, vehicle, from, to)| {
        report(kind, vehicle, from, to)
    });
    let export = move || {
        let (kind, vehicle, from, to) = filter();
        format!(
            "/api/v1/reports/{kind}?format=csv&vehicle={}&from={}&to={}",
            encode(&vehicle),
            encode(&from),
            encode(&to)
        )
    };
    view! {
        <h1>"Reports"</h1>
        <form method="get" action="/reports" class="toolbar" id="report-form">
            <label>"Report "
                <select name="kind" id="report-kind">
                    {REPORT_KINDS.iter().map(|(name, label)| {
                        let selected = move || filter().0 == *name;
                        view! { <option value=*name selected=selected>{*label}</option> }
                    }).collect_view()}
                </select>
            </label>
            <label>"Vehicle "
                <input type="search" name="vehicle" id="report-vehicle" placeholder="every vehicle"
                    value=move || filter().1/>
            </label>
            <label>"From " <input type="date" name="from" id="report-from" value=move || filter().2/></label>
            <label>"To " <input type="date" name="to" id="report-to" value=move || filter().3/></label>
            <button type="submit">"Show"</button>
            <a href=export id="report-export" class="button" download="">"Export CSV"</a>
        </form>
        <Suspense fallback=super::loading>
            {move || Suspend::new(async move {
                let table = match data.await {
                    Ok(table) => table,
                    Err(error) => return data_error(&error),
                };
                let days = (table.to_ms - table.from_ms) / 86_400_000;
                let summary = if table.truncated {
                    format!("The first {} rows over {days} days: the export has them all.", table.rows.len())
                } else {
                    let rows = table.rows.len();
                    format!("{rows} {} over {days} days (UTC).", if rows == 1 { "row" } else { "rows" })
                };
                view! {
                    <p class="muted" id="report-summary">{summary}</p>
                    <div class="table-x"><table id="report">
                        <thead><tr>{table.columns.into_iter().map(|column| view! { <th>{column}</th> }).collect_view()}</tr></thead>
                        <tbody>
                            {table.rows.into_iter().map(|row| view! {
                                <tr>{row.into_iter().map(|cell| view! { <td>{cell}</td> }).collect_view()}</tr>
                            }).collect_view()}
                        </tbody>
                    </table></div>
                }.into_any()
            })}
        </Suspense>
    }
}
