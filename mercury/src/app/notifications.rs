//! The notifications page: the delivery log of alerts sent to webhooks and by email (dispatchers: when an alert
//! went out, to which channel, after how many attempts, and why a failed one failed), and for admins the webhook
//! endpoints, with a form that adds one and shows its signing secret once.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::format;
use super::use_user;
use super::widgets::{Pager, data_error};
use crate::data::{CreateWebhook, delete_webhook, deliveries, webhooks};
use crate::model::{DeliveryView, Role, WebhookView};
use crate::url::encode;

/// The notifications page (dispatchers; the webhook section for admins).
#[component]
pub fn NotificationsPage() -> impl IntoView {
    let admin = use_user().is_some_and(|user| user.role == Role::Admin);
    view! {
        <h1>"Notifications"</h1>
        <p class="muted">"Alerts go to every signed-in browser, to the webhooks below, and by email to users who chose \
            their alert kinds in Settings. Each alert is delivered to each channel at least once and never again after \
            it succeeded; receivers deduplicate by alert id."</p>
        <Show when=move || admin>
            <Webhooks/>
        </Show>
        <DeliveryLog/>
    }
}

/// The webhook endpoints and the form that adds one (admins).
#[component]
fn Webhooks() -> impl IntoView {
    let create = ServerAction::<CreateWebhook>::new();
    let created = create.value();
    let deleted = RwSignal::new(0u32);
    let data = Resource::new(move || (create.version().get(), deleted.get()), |_| webhooks());
    view! {
        <section class="card">
            <h2>"Webhooks"</h2>
            <Suspense fallback=super::loading>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(rows) => view! {
                            <div class="table-x"><table id="webhooks">
                                <thead><tr><th>"Name"</th><th>"URL"</th><th>"Kinds"</th><th>"Added"</th><th></th></tr></thead>
                                <tbody>{rows.into_iter().map(|row| view! { <WebhookLine row deleted/> }).collect_view()}</tbody>
                            </table></div>
                        }.into_any(),
                        Err(error) => data_error(&error),
                    }
                })}
            </Suspense>
            <ActionForm action=create attr:id="webhook-form">
                <label>"Name" <input name="name" type="text" maxlength="100" required/></label>
                <label>"URL" <input name="url" type="url" maxlength="2000" placeholder="https://hooks.example.com/packetpulse" required/></label>
                <label>"Alert kinds (comma-separated; empty: all)"
                    <input name="kinds" type="text" placeholder=super::alerts::KINDS.map(|(kind, _)| kind).join(", ")/></label>
                <button type="submit" id="add-webhook">"Add webhook"</button>
            </ActionForm>
            {move || created.get().map(|result| match result {
                Ok(hook) => view! {
                    <p>"Receivers check "<code>"X-PacketPulse-Signature"</code>" (sha256=HMAC-SHA256 of the body) with \
                        this secret, shown once:"</p>
                    <input type="text" readonly id="webhook-secret" value=hook.secret/>
                }.into_any(),
                Err(error) => view! { <p class="notice error">{error.to_string()}</p> }.into_any(),
            })}
        </section>
    }
}

#[component]
fn WebhookLine(row: WebhookView, deleted: RwSignal<u32>) -> impl IntoView {
    let kinds = if row.kinds.is_empty() {
        "all".to_owned()
    } else {
        row.kinds.join(", ")
    };
    let id = row.id;
    view! {
        <tr data-webhook=id.to_string()>
            <td>{row.name}</td>
            <td><code>{row.url}</code></td>
            <td>{kinds}</td>
            <td>{format::time(row.created_at_ms)}</td>
            <td><button class="danger delete-webhook" on:click=move |_| {
                leptos::task::spawn_local(async move {
                    if delete_webhook(id).await.is_ok() {
                        deleted.update(|n| *n += 1);
                    }
                });
            }>"Delete"</button></td>
        </tr>
    }
}

/// The delivery log, newest first, filtered by status.
#[component]
fn DeliveryLog() -> impl IntoView {
    let query = use_query_map();
    let filter = move || {
        let query = query.read();
        (
            query.get("status").unwrap_or_default(),
            query
                .get("page")
                .and_then(|page| page.parse().ok())
                .unwrap_or(1u32),
        )
    };
    let data = Resource::new(filter, |(status, page)| deliveries(status, page));
    view! {
        <section class="card">
            <h2>"Delivery log"</h2>
            <form method="get" action="/notifications" class="toolbar">
                <label>"Status "
                    <select name="status" id="delivery-status">
                        <option value="">"all"</option>
                        {["pending", "delivered", "failed"].into_iter().map(|status| {
                            let selected = move || filter().0 == status;
                            view! { <option value=status selected=selected>{status}</option> }
                        }).collect_view()}
                    </select>
                </label>
                <button type="submit">"Filter"</button>
            </form>
            <Suspense fallback=super::loading>
                {move || {
                    let (status, _) = filter();
                    Suspend::new(async move {
                        let page = match data.await {
                            Ok(page) => page,
                            Err(error) => return data_error(&error),
                        };
                        let base = format!("/notifications?status={}&", encode(&status));
                        view! {
                            <div class="table-x"><table id="deliveries">
                                <thead><tr><th>"Alert"</th><th>"Channel"</th><th>"Status"</th><th>"Attempts"</th>
                                    <th>"Delivered"</th><th>"Last error"</th></tr></thead>
                                <tbody>{page.rows.into_iter().map(|row| view! { <DeliveryLine row/> }).collect_view()}</tbody>
                            </table></div>
                            <Pager base page=page.page per_page=page.per_page total=page.total/>
                        }.into_any()
                    })
                }}
            </Suspense>
        </section>
    }
}

#[component]
fn DeliveryLine(row: DeliveryView) -> impl IntoView {
    let delivered = if row.delivered_at_ms > 0 {
        format::time(row.delivered_at_ms)
    } else if row.next_attempt_at_ms > 0 {
        format!("next try {}", format::time(row.next_attempt_at_ms))
    } else {
        String::new()
    };
    let (channel, status) = (row.channel.clone(), row.status.clone());
    view! {
        <tr data-alert=row.alert_id.clone() data-channel=channel data-status=status>
            <td>{format!("{} · {} · {}", row.kind.replace('_', " "), row.vehicle_id, format::time(row.alert_at_ms))}</td>
            <td>{row.channel}</td>
            <td>{row.status}</td>
            <td>{row.attempts}</td>
            <td>{delivered}</td>
            <td class="muted">{row.last_error}</td>
        </tr>
    }
}
