//! The browser-side helpers in `js/dashboard.js` (Leaflet maps, Chart.js charts, the live feed's WebSocket),
//! called from effects, which run only in the browser. On the server they are never called.

#[cfg(feature = "hydrate")]
mod bindings {
    use wasm_bindgen::prelude::wasm_bindgen;

    #[wasm_bindgen(module = "/js/dashboard.js")]
    extern "C" {
        /// Draws a Chart.js chart (configuration as JSON) into the canvas with this id.
        #[wasm_bindgen(js_name = renderChart)]
        pub fn render_chart(canvas_id: &str, config_json: &str);
        /// Starts the live map in the element with this id (base layer: [`crate::model::MapTiles`] as JSON):
        /// WebSocket feed, markers, details panel, legend, search, follow and re-centre.
        #[wasm_bindgen(js_name = startLiveMap)]
        pub fn start_live_map(element_id: &str, tiles_json: &str, units: &str);
        /// Opens the alerts WebSocket: the counter in the top bar, a toast per new alert, vehicles with open
        /// alerts marked on the live map.
        #[wasm_bindgen(js_name = startAlerts)]
        pub fn start_alerts();
        /// Starts the geofence map in the element with this id: the geofences from the API, and for dispatchers
        /// the drawing tools (circle, polygon, edit, drag, delete) saving through the API.
        #[wasm_bindgen(js_name = startGeofenceEditor)]
        pub fn start_geofence_editor(element_id: &str, tiles_json: &str, can_edit: bool);
        /// Shows only vehicles of this status (empty: all).
        #[wasm_bindgen(js_name = setLiveFilter)]
        pub fn set_live_filter(status: &str);
        /// Draws a session's track, pickup and drop-off, and the replay marker.
        #[wasm_bindgen(js_name = showTrack)]
        pub fn show_track(element_id: &str, detail_json: &str, tiles_json: &str);
        /// Moves the replay marker to the track's point `index`.
        #[wasm_bindgen(js_name = replayTo)]
        pub fn replay_to(index: u32);
        /// Animates the replay from the slider's position to the end.
        #[wasm_bindgen(js_name = replayPlay)]
        pub fn replay_play(slider_id: &str);
        /// Draws the public tracking map: the vehicle and the destination.
        #[wasm_bindgen(js_name = showTracking)]
        pub fn show_tracking(element_id: &str, tracking_json: &str, tiles_json: &str);
        #[wasm_bindgen(js_name = subscribe)]
        fn subscribe_js(path: &str, on_message: &wasm_bindgen::JsValue);
        /// Closes the page's sockets whose paths start with `prefix` (the page was left).
        #[wasm_bindgen(js_name = unsubscribe)]
        pub fn unsubscribe(prefix: &str);
    }

    /// Opens the WebSocket at `path` (reopened 2 s after it drops) and hands each message's text to
    /// `on_message` until [`unsubscribe`].
    pub fn subscribe(path: &str, on_message: impl FnMut(String) + 'static) {
        use wasm_bindgen::closure::Closure;
        // Owned by JavaScript from here: collected with the subscription.
        let callback = Closure::<dyn FnMut(String)>::new(on_message).into_js_value();
        subscribe_js(path, &callback);
    }
}

#[cfg(feature = "hydrate")]
pub use bindings::*;

#[cfg(not(feature = "hydrate"))]
mod server_side {
    //! Never called on the server (effects don't run there); present so the pages compile for both.
    pub fn render_chart(_: &str, _: &str) {}
    pub fn start_live_map(_: &str, _: &str, _: &str) {}
    pub fn set_live_filter(_: &str) {}
    pub fn start_alerts() {}
    pub fn start_geofence_editor(_: &str, _: &str, _: bool) {}
    pub fn show_track(_: &str, _: &str, _: &str) {}
    pub fn replay_to(_: u32) {}
    pub fn replay_play(_: &str) {}
    pub fn show_tracking(_: &str, _: &str, _: &str) {}
    pub fn subscribe(_: &str, _: impl FnMut(String) + 'static) {}
    pub fn unsubscribe(_: &str) {}
}

#[cfg(not(feature = "hydrate"))]
pub use server_side::*;
