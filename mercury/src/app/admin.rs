//! The admin's users page: every user with their role, a form per user to change the role, disable, enable or
//! delete them (plain posts to the server's admin handlers), a form to create a user, and invitations: a
//! one-time sign-up link with a role, shown once.

use leptos::prelude::*;

use super::widgets::{FormNotice, data_error};
use crate::data::{CreateInvite, users};
use crate::model::{Role, UserRow};

/// The users page (admins only: the route table refuses everyone else).
#[component]
pub fn UsersPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| users());
    view! {
        <h1>"Users"</h1>
        <FormNotice/>
        <Suspense fallback=super::loading>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(rows) => view! {
                        <div class="table-x"><table id="users">
                            <thead><tr><th>"User"</th><th>"Email"</th><th>"Role"</th><th>"State"</th><th></th></tr></thead>
                            <tbody>{rows.into_iter().map(|row| view! { <UserLine row/> }).collect_view()}</tbody>
                        </table></div>
                    }.into_any(),
                    Err(error) => data_error(&error),
                }
            })}
        </Suspense>
        <div class="grid two">
            <NewUser/>
            <Invite/>
        </div>
    }
}

/// The options of a role select, `selected` chosen.
fn role_options(selected: Role) -> impl IntoView {
    Role::ALL
        .into_iter()
        .map(|role| view! { <option value=role.as_str() selected=role == selected>{role.as_str()}</option> })
        .collect_view()
}

/// One user's row with its forms.
#[component]
fn UserLine(row: UserRow) -> impl IntoView {
    let base = format!("/admin/users/{}", row.id);
    let (toggle_action, toggle_label) = if row.disabled {
        (format!("{base}/enable"), "Enable")
    } else {
        (format!("{base}/disable"), "Disable")
    };
    let name = row.username.clone();
    view! {
        <tr data-user=name>
            <td>{row.username}</td>
            <td>{row.email}</td>
            <td>
                <form method="post" action=format!("{base}/role") class="inline">
                    <select name="role" aria-label="Role">{role_options(row.role)}</select>
                    <button type="submit" class="change-role">"Change"</button>
                </form>
            </td>
            <td>{if row.disabled { "disabled" } else { "active" }}</td>
            <td>
                <form method="post" action=toggle_action class="inline">
                    <button type="submit" class="toggle-user">{toggle_label}</button>
                </form>
                <form method="post" action=format!("{base}/delete") class="inline">
                    <button type="submit" class="danger delete-user">"Delete"</button>
                </form>
            </td>
        </tr>
    }
}

/// Creates a user with an initial password the admin hands over.
#[component]
fn NewUser() -> impl IntoView {
    view! {
        <section class="card">
            <h2>"New user"</h2>
            <form method="post" action="/admin/users" id="new-user-form">
                <label>"Username" <input name="username" type="text" minlength="3" maxlength="64" required/></label>
                <label>"Email" <input name="email" type="email" required/></label>
                <label>"Initial password" <input name="password" type="password" autocomplete="new-password" minlength="8" required/></label>
                <label>"Role" <select name="role">{role_options(Role::Viewer)}</select></label>
                <button type="submit" id="create-user">"Create user"</button>
            </form>
        </section>
    }
}

/// Creates a one-time sign-up link and shows it once.
#[component]
fn Invite() -> impl IntoView {
    let create = ServerAction::<CreateInvite>::new();
    let link = create.value();
    view! {
        <section class="card">
            <h2>"Invite"</h2>
            <p>"A one-time sign-up link with a role; it expires unused after the configured time."</p>
            <ActionForm action=create attr:id="invite-form">
                <label>"Role" <select name="role">{role_options(Role::Viewer)}</select></label>
                <button type="submit" id="create-invite">"Create link"</button>
            </ActionForm>
            {move || link.get().map(|result| match result {
                Ok(link) => view! {
                    <p>"Send this link (shown once):"</p>
                    <input type="text" readonly id="invite-link" aria-label="Invitation link" value=link/>
                }.into_any(),
                Err(error) => view! { <p class="notice error">{error.to_string()}</p> }.into_any(),
            })}
        </section>
    }
}
