//! The overview the server pushes (`/api/v1/overview/live`), for the pages that follow it: the overview redraws
//! with it, the analytics page reloads when today's figures or silver's and gold's newest events moved.

use leptos::prelude::*;

use super::js;
use crate::model::Overview;

/// Where the server pushes the overview as it changes.
const OVERVIEW_FEED: &str = "/api/v1/overview/live";

/// The newest pushed overview (none until the first arrives), while the calling page is open.
pub fn pushed_overview() -> RwSignal<Option<Overview>> {
    let pushed = RwSignal::new(None::<Overview>);
    Effect::new(move |_| {
        js::subscribe(OVERVIEW_FEED, move |text| {
            // A message this page cannot read leaves the figures it has.
            if let Ok(overview) = serde_json::from_str::<Overview>(&text) {
                pushed.set(Some(overview));
            }
        });
    });
    on_cleanup(|| js::unsubscribe(OVERVIEW_FEED));
    pushed
}

/// What the analytics follow in the newest pushed overview: today's figures and silver's and gold's newest events.
/// It changes when new data landed (a backfill of old days aside), not with the passing seconds of the freshness ages.
pub fn warehouse_version(pushed: RwSignal<Option<Overview>>) -> Memo<String> {
    Memo::new(move |_| {
        pushed.with(|overview| overview.as_ref().map(Overview::data_version).unwrap_or_default())
    })
}
