//! The admin's devices page: every device credential (device, vehicle or fleet, issued, expires, revoked) with a
//! revoke button each (a plain post), a form that issues a credential and shows the device token once, and the
//! public key Venus must be given to check the tokens.

use leptos::prelude::*;

use super::format;
use super::widgets::{FormNotice, data_error};
use crate::data::{RegisterDevice, devices};
use crate::model::DeviceRow;

/// The devices page (admins only: the route table refuses everyone else).
#[component]
pub fn DevicesPage() -> impl IntoView {
    let register = ServerAction::<RegisterDevice>::new();
    let issued = register.value();
    let data = Resource::new(move || register.version().get(), |_| devices());
    view! {
        <h1>"Devices"</h1>
        <FormNotice/>
        <Suspense fallback=super::loading>
            {move || Suspend::new(async move {
                match data.await {
                    Ok((rows, public_key)) => view! {
                        <div class="table-x"><table id="devices">
                            <thead><tr><th>"Device"</th><th>"Vehicle"</th><th>"Issued"</th><th>"Expires"</th><th>"State"</th><th></th></tr></thead>
                            <tbody>{rows.into_iter().map(|row| view! { <DeviceLine row/> }).collect_view()}</tbody>
                        </table></div>
                        <p class="muted">"Venus checks device tokens with this public key ("
                            <code>"VENUS_DEVICE_TOKEN_KEY"</code> "): " <code id="device-public-key">{public_key}</code></p>
                    }.into_any(),
                    Err(error) => data_error(&error),
                }
            })}
        </Suspense>
        <section class="card">
            <h2>"Issue a credential"</h2>
            <ActionForm action=register attr:id="device-form">
                <label>"Device id" <input name="device_id" type="text" maxlength="64" required/></label>
                <label>"Vehicle id (empty: a fleet credential, for gateways)" <input name="vehicle_id" type="text" maxlength="64"/></label>
                <label>"Valid for (days)" <input name="days" type="number" min="1" max="3650" value="365" required/></label>
                <button type="submit" id="register-device">"Issue credential"</button>
            </ActionForm>
            {move || issued.get().map(|result| match result {
                Ok(token) => view! {
                    <p>"The device authenticates with this token (shown once):"</p>
                    <input type="text" readonly id="device-token" value=token/>
                }.into_any(),
                Err(error) => view! { <p class="notice error">{error.to_string()}</p> }.into_any(),
            })}
        </section>
    }
}

/// One credential's row.
#[component]
fn DeviceLine(row: DeviceRow) -> impl IntoView {
    let state = match row.revoked_at_ms {
        Some(at) => format!("revoked {}", format::time(at.max(0).cast_unsigned())),
        None => "active".to_owned(),
    };
    let revoked = row.revoked_at_ms.is_some();
    let action = format!("/admin/devices/{}/revoke", row.id);
    let device = row.device_id.clone();
    view! {
        <tr data-device=device>
            <td>{row.device_id}</td>
            <td>{row.vehicle_id.unwrap_or_else(|| "fleet".to_owned())}</td>
            <td>{format::time(row.created_at_ms.max(0).cast_unsigned())}</td>
            <td>{format::time(row.expires_at_ms.max(0).cast_unsigned())}</td>
            <td class="device-state">{state}</td>
            <td>
                <Show when=move || !revoked>
                    <form method="post" action=action.clone() class="inline">
                        <button type="submit" class="danger revoke-device">"Revoke"</button>
                    </form>
                </Show>
            </td>
        </tr>
    }
}
