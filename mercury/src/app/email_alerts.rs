//! The settings page's email alerts: which alert kinds the signed-in user gets by email (to their profile's
//! address), saved at once. Disabled, with the reason, when the dashboard has no SMTP server.

use leptos::prelude::*;

use super::alerts::KINDS;
use super::widgets::data_error;
use crate::data::{email_alerts, set_email_alerts};

/// The email alerts card.
#[component]
pub fn EmailAlertsCard() -> impl IntoView {
    let saved = RwSignal::new(0u32);
    let status = RwSignal::new(String::new());
    let data = Resource::new(move || saved.get(), |_| email_alerts());
    view! {
        <section class="card" id="email-alerts">
            <h2>"Email alerts"</h2>
            <Suspense fallback=super::loading>
                {move || Suspend::new(async move {
                    let current = match data.await {
                        Ok(current) => current,
                        Err(error) => return data_error(&error),
                    };
                    if !current.enabled {
                        return view! { <p class="muted">"This dashboard sends no email (no SMTP server is set: \
                            MERCURY_SMTP_URL)."</p> }.into_any();
                    }
                    let chosen = RwSignal::new(current.kinds.clone());
                    view! {
                        <p class="muted">{format!("Sent to {}, the address of your profile.", current.email)}</p>
                        {KINDS.iter().map(|(kind, label)| {
                            let kind = (*kind).to_owned();
                            let checked = current.kinds.contains(&kind);
                            view! {
                                <label class="check"><input type="checkbox" class="email-kind" value=kind.clone()
                                    checked=checked on:change=move |event| {
                                        let on = event_target_checked(&event);
                                        let kind = kind.clone();
                                        chosen.update(|kinds| {
                                            kinds.retain(|other| *other != kind);
                                            if on {
                                                kinds.push(kind);
                                            }
                                        });
                                    }/>{format!(" {label}")}</label>
                            }
                        }).collect_view()}
                        <button id="save-email-alerts" on:click=move |_| {
                            let kinds = chosen.get_untracked().join(",");
                            leptos::task::spawn_local(async move {
                                match set_email_alerts(kinds).await {
                                    Ok(_) => status.set("Saved.".to_owned()),
                                    Err(error) => status.set(error.to_string()),
                                }
                            });
                        }>"Save email alerts"</button>
                        <span class="muted" id="email-alerts-status">{move || status.get()}</span>
                    }.into_any()
                })}
            </Suspense>
        </section>
    }
}
