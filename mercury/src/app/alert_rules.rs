//! The alerts page's rule settings: the timed rules' thresholds as Jupiter's detector applies them, with the
//! overrides dispatchers set here (in force in Jupiter within seconds; empty fields keep Jupiter's setting).

use leptos::prelude::*;

use super::use_user;
use super::widgets::data_error;
use crate::data::{alert_rules, reset_alert_rule, set_alert_rule};
use crate::model::{AlertRuleView, Role};

/// What each rule's two numbers mean.
fn labels(rule: &str) -> (Option<&'static str>, &'static str) {
    match rule {
        "overspeed" => (Some("limit, km/h"), "for, seconds"),
        "idle" => (Some("below, km/h"), "for, seconds"),
        _ => (None, "after silence, seconds"),
    }
}

/// The rules card.
#[component]
pub fn AlertRulesCard() -> impl IntoView {
    let changed = RwSignal::new(0u32);
    let status = RwSignal::new(String::new());
    let data = Resource::new(move || changed.get(), |_| alert_rules());
    let dispatcher = use_user().is_some_and(|user| user.role >= Role::Dispatcher);
    view! {
        <section class="card" id="alert-rules">
            <h2>"Rule thresholds"</h2>
            <p class="muted">"Empty: Jupiter's own setting (JUPITER_ALERT_*). A change is in force in the detector within seconds."</p>
            <Suspense fallback=super::loading>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(rules) => view! {
                            <div class="table-x"><table>
                                <tbody>{rules.into_iter().map(|rule| view! { <RuleLine rule dispatcher changed status/> }).collect_view()}</tbody>
                            </table></div>
                            <p class="muted" id="alert-rules-status">{move || status.get()}</p>
                        }.into_any(),
                        Err(error) => data_error(&error),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn RuleLine(
    rule: AlertRuleView,
    dispatcher: bool,
    changed: RwSignal<u32>,
    status: RwSignal<String>,
) -> impl IntoView {
    let (kmh_label, seconds_label) = labels(&rule.rule);
    let kmh = RwSignal::new(rule.kmh.map(|value| value.to_string()).unwrap_or_default());
    let seconds = RwSignal::new(rule.seconds.map(|value| value.to_string()).unwrap_or_default());
    let name = rule.rule.clone();
    let save = {
        let name = name.clone();
        move |_| {
            let (rule, kmh, seconds) = (name.clone(), kmh.get_untracked(), seconds.get_untracked());
            leptos::task::spawn_local(async move {
                match set_alert_rule(rule.clone(), kmh, seconds).await {
                    Ok(()) => {
                        status.set(format!("{rule}: saved"));
                        changed.update(|n| *n += 1);
                    }
                    Err(error) => status.set(error.to_string()),
                }
            });
        }
    };
    let reset = {
        let name = name.clone();
        move |_| {
            let rule = name.clone();
            leptos::task::spawn_local(async move {
                match reset_alert_rule(rule.clone()).await {
                    Ok(()) => {
                        status.set(format!("{rule}: back to Jupiter's setting"));
                        changed.update(|n| *n += 1);
                    }
                    Err(error) => status.set(error.to_string()),
                }
            });
        }
    };
    view! {
        <tr data-rule=name.clone()>
            <td>{name.clone()}</td>
            <td>{kmh_label.map(|label| view! {
                <label>{format!("{label} ")}
                    <input type="number" step="any" class="rule-kmh" prop:value=move || kmh.get()
                        disabled=!dispatcher on:input=move |event| kmh.set(event_target_value(&event))/></label>
            })}</td>
            <td><label>{format!("{seconds_label} ")}
                <input type="number" min="1" class="rule-seconds" prop:value=move || seconds.get()
                    disabled=!dispatcher on:input=move |event| seconds.set(event_target_value(&event))/></label></td>
            <td><Show when=move || dispatcher>
                <button class="save-rule" on:click=save.clone()>"Save"</button>
                <button class="reset-rule" on:click=reset.clone()>"Reset"</button>
            </Show></td>
        </tr>
    }
}
