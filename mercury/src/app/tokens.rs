//! The settings page's API tokens: the signed-in user's live tokens with a revoke button each (plain posts), and
//! a form that creates one and shows it once. Scripts and BI tools send a token as `Authorization: Bearer` on
//! `/api/v1`.

use leptos::prelude::*;

use super::format;
use super::widgets::data_error;
use crate::data::{CreateApiToken, api_tokens};

/// The API tokens section.
#[component]
pub fn ApiTokens() -> impl IntoView {
    let create = ServerAction::<CreateApiToken>::new();
    let created = create.value();
    let data = Resource::new(move || create.version().get(), |_| api_tokens());
    view! {
        <section class="card">
            <h2>"API tokens"</h2>
            <p>"For scripts and BI tools: send a token as " <code>"Authorization: Bearer …"</code> " on /api/v1."</p>
            <Suspense fallback=super::loading>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(tokens) => view! {
                            <div class="table-x"><table id="api-tokens">
                                <thead><tr><th>"Name"</th><th>"Created"</th><th>"Expires"</th><th>"Last used"</th><th></th></tr></thead>
                                <tbody>
                                    {tokens.into_iter().map(|token| {
                                        let name = token.name.clone();
                                        view! {
                                        <tr data-token=name>
                                            <td>{token.name}</td>
                                            <td>{format::time(token.created_at_ms.max(0).cast_unsigned())}</td>
                                            <td>{token.expires_at_ms.map_or("never".to_owned(), |ms| format::time(ms.max(0).cast_unsigned()))}</td>
                                            <td>{token.last_used_at_ms.map_or("never".to_owned(), |ms| format::time(ms.max(0).cast_unsigned()))}</td>
                                            <td>
                                                <form method="post" action=format!("/settings/tokens/{}/revoke", token.id) class="inline">
                                                    <button type="submit" class="danger revoke-token">"Revoke"</button>
                                                </form>
                                            </td>
                                        </tr>
                                    }}).collect_view()}
                                </tbody>
                            </table></div>
                        }.into_any(),
                        Err(error) => data_error(&error),
                    }
                })}
            </Suspense>
            <ActionForm action=create attr:id="token-form">
                <label>"Name" <input name="name" type="text" maxlength="64" required/></label>
                <label>"Valid for (days, empty: no expiry)" <input name="days" type="number" min="1"/></label>
                <button type="submit" id="create-token">"Create token"</button>
            </ActionForm>
            {move || created.get().map(|result| match result {
                Ok(token) => view! {
                    <p>"Copy it now, it is shown once:"</p>
                    <input type="text" readonly id="new-token" value=token/>
                }.into_any(),
                Err(error) => view! { <p class="notice error">{error.to_string()}</p> }.into_any(),
            })}
        </section>
    }
}
