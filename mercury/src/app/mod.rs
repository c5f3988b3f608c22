//! The pages, shared by the server (which renders them to HTML) and the browser (which hydrates them).

mod account;
mod admin;
mod alert_rules;
mod alerts;
mod analytics;
mod api_docs;
mod devices;
mod email_alerts;
mod fleet;
mod format;
mod geofences;
mod js;
mod live;
mod notifications;
mod overview;
mod push;
mod reports;
mod sessions;
mod tokens;
mod track;
mod widgets;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

use crate::model::{Role, UserView};

/// The HTML document around the app: styles, Leaflet and Chart.js (classic scripts, so they are loaded before
/// the wasm runs), the hydration scripts and meta tags. The theme is the signed-in user's.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en" data-theme=theme()>
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="stylesheet" href="/style.css"/>
                <link rel="stylesheet" href="/vendor/leaflet/leaflet.css"/>
                <script src="/vendor/leaflet/leaflet.js"></script>
                <script src="/vendor/chart.js/chart.umd.min.js"></script>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// `light` or `dark`: the signed-in user's choice (the shell is only rendered on the server).
fn theme() -> String {
    signed_in_user().map_or_else(|| "light".to_owned(), |user| user.theme)
}

/// The request's user (the access guard put it there), on the server; the browser gets it from the page.
fn signed_in_user() -> Option<UserView> {
    #[cfg(feature = "ssr")]
    {
        use_context::<axum::http::request::Parts>().and_then(|parts| {
            parts
                .extensions
                .get::<crate::server::access::CurrentUser>()
                .map(|user| user.0.view())
        })
    }
    #[cfg(not(feature = "ssr"))]
    {
        None
    }
}

/// The application: its routes.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Who is signed in is fixed for the document (signing in or out loads a new one), so it is read from the
    // request on the server and sent along with the page: the layout and the pages know it at once, and no page
    // is created inside a <Suspense> waiting for it (creating resources there is what leptos warns against,
    // leptos-rs/leptos#4866).
    if let Some(user) = SharedValue::new(signed_in_user).into_inner() {
        provide_context(user);
    }
    view! {
        <Title text="PacketPulse"/>
        <Router>
            <Routes fallback=|| view! { <main class="public"><p>"Page not found."</p></main> }>
                <Route path=path!("/login") view=account::LoginPage/>
                <Route path=path!("/signup") view=account::SignupPage/>
                <Route path=path!("/track/:token") view=track::TrackPage/>
                <Route path=path!("/") view=|| view! { <Layout><overview::OverviewPage/></Layout> }/>
                <Route path=path!("/live") view=|| view! { <Layout><live::LiveMapPage/></Layout> }/>
                <Route path=path!("/analytics") view=|| view! { <Layout><analytics::AnalyticsPage/></Layout> }/>
                <Route path=path!("/sessions") view=|| view! { <Layout><sessions::SessionsPage/></Layout> }/>
                <Route path=path!("/sessions/:id") view=|| view! { <Layout><sessions::SessionPage/></Layout> }/>
                <Route path=path!("/fleet") view=|| view! { <Layout><fleet::FleetPage/></Layout> }/>
                <Route path=path!("/alerts") view=|| view! { <Layout><alerts::AlertsPage/></Layout> }/>
                <Route path=path!("/geofences") view=|| view! { <Layout><geofences::GeofencesPage/></Layout> }/>
                <Route path=path!("/settings") view=|| view! { <Layout><account::SettingsPage/></Layout> }/>
                <Route path=path!("/notifications") view=|| view! { <Layout><notifications::NotificationsPage/></Layout> }/>
                <Route path=path!("/admin/users") view=|| view! { <Layout><admin::UsersPage/></Layout> }/>
                <Route path=path!("/admin/devices") view=|| view! { <Layout><devices::DevicesPage/></Layout> }/>
                <Route path=path!("/reports") view=|| view! { <Layout><reports::ReportsPage/></Layout> }/>
                <Route path=path!("/api-docs") view=|| view! { <Layout><api_docs::ApiDocsPage/></Layout> }/>
            </Routes>
        </Router>
    }
}

/// Marks the page once the browser's wasm has taken it over, so tests (and people) can tell a hydrated page
/// from server-rendered HTML alone.
fn hydrated() -> ReadSignal<bool> {
    let (hydrated, set_hydrated) = signal(false);
    // Effects run only in the browser.
    Effect::new(move |_| set_hydrated.set(true));
    hydrated
}

/// The signed-in user, for the pages inside [`Layout`].
pub fn use_user() -> Option<UserView> {
    use_context::<UserView>()
}

/// The signed-in user's distance units (`km` or `mi`); `km` outside [`Layout`].
pub fn use_units() -> String {
    use_user().map_or_else(|| "km".to_owned(), |user| user.units)
}

/// What a page shows while its data loads.
fn loading() -> impl IntoView {
    view! { <p class="loading">"Loading…"</p> }
}

/// Navigation, the signed-in user, the default-password nag, and the page.
#[component]
fn Layout(children: Children) -> impl IntoView {
    let user = use_user();
    let name = user
        .as_ref()
        .map(|user| user.username.clone())
        .unwrap_or_default();
    let nag = user.as_ref().is_some_and(|user| user.must_change_password);
    let admin = user.as_ref().is_some_and(|user| user.role == Role::Admin);
    let dispatcher = user.as_ref().is_some_and(|user| user.role >= Role::Dispatcher);
    let hydrated = hydrated();
    // Every signed-in page hears of new alerts (a toast, the counter), whatever page it is.
    Effect::new(move |_| js::start_alerts());
    view! {
        <header class="topbar" data-hydrated=move || hydrated.get().to_string()>
            <a class="brand" href="/">"PacketPulse"</a>
            <nav>
                <a href="/">"Overview"</a>
                <a href="/live">"Live map"</a>
                <a href="/analytics">"Analytics"</a>
                <a href="/sessions">"Sessions"</a>
                <a href="/fleet">"Fleet"</a>
                <a href="/geofences">"Geofences"</a>
                <a href="/reports">"Reports"</a>
                <a href="/alerts" id="nav-alerts">"Alerts "<span id="alert-count" class="badge">"0"</span></a>
                <Show when=move || dispatcher>
                    <a href="/notifications" id="nav-notifications">"Notifications"</a>
                </Show>
                <a href="/settings">"Settings"</a>
                <a href="/api-docs" id="nav-api">"API"</a>
                <Show when=move || admin>
                    <a href="/admin/users" id="nav-users">"Users"</a>
                    <a href="/admin/devices" id="nav-devices">"Devices"</a>
                </Show>
            </nav>
            <span class="whoami" id="whoami">{name}</span>
            <form method="post" action="/logout" class="logout">
                <button type="submit" id="logout">"Sign out"</button>
            </form>
        </header>
        <Show when=move || nag>
            <div class="nag" id="nag">
                "You are using the default admin password (the first start's). "
                <a href="/settings">"Change it now."</a>
            </div>
        </Show>
        <main>{children()}</main>
        <div id="toasts" class="toasts" aria-live="polite"></div>
    }
}
