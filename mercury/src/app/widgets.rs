//! Small pieces several pages use: a chart canvas, form notices, a pager, a status badge, the data error.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::js;
use crate::notice::Notice;

/// A Chart.js chart drawn from `config` once the page runs in the browser.
#[component]
pub fn Chart(id: &'static str, config: serde_json::Value, #[prop(into)] label: String) -> impl IntoView {
    let json = config.to_string();
    Effect::new(move |_| js::render_chart(id, &json));
    view! { <div class="chart"><canvas id=id aria-label=label role="img"></canvas></div> }
}

/// The notice named by the page's `?error=` or `?done=` code (unknown codes show nothing).
#[component]
pub fn FormNotice() -> impl IntoView {
    let query = use_query_map();
    move || {
        let query = query.read();
        if let Some(notice) = query.get("error").and_then(|code| Notice::from_code(&code)) {
            Some(view! { <p class="notice error" id="notice">{notice.message()}</p> })
        } else {
            query
                .get("done")
                .and_then(|code| Notice::from_code(&code))
                .map(|notice| view! { <p class="notice done" id="notice">{notice.message()}</p> })
        }
    }
}

/// Previous / next links of a list, keeping its filter (`base` ends with `?…&` or `?`).
#[component]
pub fn Pager(base: String, page: u32, per_page: u32, total: u64) -> impl IntoView {
    let pages = total.div_ceil(u64::from(per_page.max(1))).max(1);
    let previous = (page > 1).then(|| format!("{base}page={}", page - 1));
    let next = (u64::from(page) < pages).then(|| format!("{base}page={}", page + 1));
    view! {
        <nav class="pager">
            {previous.map(|href| view! { <a href=href rel="prev">"← Previous"</a> })}
            <span>{format!("Page {page} of {pages} · {total} in all")}</span>
            {next.map(|href| view! { <a href=href rel="next">"Next →"</a> })}
        </nav>
    }
}

/// A coloured status label.
#[component]
pub fn StatusBadge(status: String) -> impl IntoView {
    let class = format!("badge status-{status}");
    view! { <span class=class>{status.replace('_', " ")}</span> }
}

/// What a page shows when its data could not be loaded.
pub fn data_error(error: &ServerFnError) -> AnyView {
    view! { <p class="notice error">"Could not load the data: " {error.to_string()}</p> }.into_any()
}
