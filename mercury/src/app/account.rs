//! Login, signup and settings: plain forms posting to the server's account handlers, so they work before the
//! wasm has loaded and without it (the API tokens section creates tokens through a server function).

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::tokens::ApiTokens;
use super::widgets::FormNotice;
use super::{hydrated, use_user};
use crate::data::client_settings;

/// Sign-in form.
#[component]
pub fn LoginPage() -> impl IntoView {
    let hydrated = hydrated();
    let query = use_query_map();
    let next = move || query.read().get("next").unwrap_or_default();
    view! {
        <main class="public">
            <section class="card auth">
                <h1>"PacketPulse"</h1>
                <h2>"Sign in"</h2>
                <FormNotice/>
                <form method="post" action="/login" data-hydrated=move || hydrated.get().to_string()>
                    <input type="hidden" name="next" value=next/>
                    <label>"Email or username" <input name="login" type="text" autocomplete="username" required/></label>
                    <label>"Password" <input name="password" type="password" autocomplete="current-password" required/></label>
                    <button type="submit" id="sign-in">"Sign in"</button>
                </form>
                <p>"No account? " <a href="/signup">"Sign up"</a></p>
            </section>
        </main>
    }
}

/// Sign-up form: with the invitation of the link (`?invite=`), or without when sign-up is open.
#[component]
pub fn SignupPage() -> impl IntoView {
    let query = use_query_map();
    let invite = move || query.read().get("invite").unwrap_or_default();
    let settings = Resource::new(|| (), |_| client_settings());
    view! {
        <main class="public">
            <section class="card auth">
                <h1>"PacketPulse"</h1>
                <h2>"Create an account"</h2>
                <FormNotice/>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        let open = settings.await.is_ok_and(|settings| settings.open_signup);
                        (!open && invite().is_empty()).then(|| view! {
                            <p class="notice" id="signup-closed">"Sign-up needs an invitation: ask an administrator for a link."</p>
                        })
                    })}
                </Suspense>
                <form method="post" action="/signup">
                    <input type="hidden" name="invite" value=invite/>
                    <label>"Username" <input name="username" type="text" autocomplete="username" minlength="3" maxlength="64" required/></label>
                    <label>"Email" <input name="email" type="email" autocomplete="email" required/></label>
                    <label>"Password" <input name="password" type="password" autocomplete="new-password" minlength="8" required/></label>
                    <label>"Password again" <input name="password_confirm" type="password" autocomplete="new-password" minlength="8" required/></label>
                    <button type="submit" id="sign-up">"Sign up"</button>
                </form>
                <p>"Have an account? " <a href="/login">"Sign in"</a></p>
            </section>
        </main>
    }
}

/// Profile (with theme and units), password, account deletion.
#[component]
pub fn SettingsPage() -> impl IntoView {
    let user = use_user();
    let username = user
        .as_ref()
        .map(|user| user.username.clone())
        .unwrap_or_default();
    let email = user.as_ref().map(|user| user.email.clone()).unwrap_or_default();
    let theme = user
        .as_ref()
        .map_or("light".to_owned(), |user| user.theme.clone());
    let units = user.as_ref().map_or("km".to_owned(), |user| user.units.clone());
    view! {
        <h1>"Settings"</h1>
        <FormNotice/>
        <div class="grid two">
            <section class="card">
                <h2>"Profile"</h2>
                <form method="post" action="/settings/profile" id="profile-form">
                    <label>"Username" <input name="username" type="text" value=username required/></label>
                    <label>"Email" <input name="email" type="email" value=email required/></label>
                    <label>"Theme"
                        <select name="theme">
                            <option value="light" selected=theme == "light">"Light"</option>
                            <option value="dark" selected=theme == "dark">"Dark"</option>
                        </select>
                    </label>
                    <label>"Units"
                        <select name="units">
                            <option value="km" selected=units == "km">"Kilometres"</option>
                            <option value="mi" selected=units == "mi">"Miles"</option>
                        </select>
                    </label>
                    <button type="submit" id="save-profile">"Save profile"</button>
                </form>
            </section>
            <section class="card">
                <h2>"Password"</h2>
                <form method="post" action="/settings/password" id="password-form">
                    <label>"Current password" <input name="current_password" type="password" autocomplete="current-password" required/></label>
                    <label>"New password" <input name="new_password" type="password" autocomplete="new-password" minlength="8" required/></label>
                    <label>"New password again" <input name="new_password_confirm" type="password" autocomplete="new-password" minlength="8" required/></label>
                    <button type="submit" id="change-password">"Change password"</button>
                </form>
                <h2>"Delete account"</h2>
                <form method="post" action="/settings/delete" id="delete-form">
                    <label>"Password" <input name="password" type="password" autocomplete="current-password" required/></label>
                    <button type="submit" class="danger" id="delete-account">"Delete my account"</button>
                </form>
            </section>
            <ApiTokens/>
            <super::email_alerts::EmailAlertsCard/>
        </div>
    }
}
