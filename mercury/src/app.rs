//! The pages, shared by the server (which renders them to HTML) and the browser (which hydrates them).

use leptos::prelude::*;
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

/// The HTML document around the app: the hydration scripts and meta tags go into its head.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The application: its routes.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title text="PacketPulse"/>
        <Router>
            <main>
                <Routes fallback=|| view! { <p>"Page not found."</p> }>
                    <Route path=path!("/login") view=LoginPage/>
                    <Route path=path!("/") view=Overview/>
                </Routes>
            </main>
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

/// Sign-in form.
#[component]
fn LoginPage() -> impl IntoView {
    let hydrated = hydrated();
    view! {
        <h1>"PacketPulse"</h1>
        <form method="post" action="/login" data-hydrated=move || hydrated.get().to_string()>
            <label>"Email or username" <input name="login" type="text" autocomplete="username" required/></label>
            <label>"Password" <input name="password" type="password" autocomplete="current-password" required/></label>
            <button type="submit">"Sign in"</button>
        </form>
    }
}

/// The fleet overview (KPIs, charts, recent sessions come with the next part of issue 7).
#[component]
fn Overview() -> impl IntoView {
    let hydrated = hydrated();
    view! {
        <h1>"Fleet overview"</h1>
        <p data-hydrated=move || hydrated.get().to_string()>"PacketPulse dashboard"</p>
    }
}
