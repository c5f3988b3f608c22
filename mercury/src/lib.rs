//! Mercury, PacketPulse's dashboard: a Leptos app rendered on the server ([`server`], feature `ssr`) and hydrated
//! in the browser from the same components ([`app`], compiled to wasm with feature `hydrate`, see `build.sh`).

pub mod app;
pub mod data;
pub mod model;
pub mod notice;
#[cfg(feature = "ssr")]
pub mod server;
pub mod url;

/// The browser's entry point, called by the script Leptos puts in every page: takes over the server-rendered
/// page (hydration) so it becomes interactive.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
