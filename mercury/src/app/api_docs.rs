//! The API reference: every operation of `/api/v1` from the OpenAPI document the server generates, with who may
//! call it (the route table's word) and a link to the document itself for code generators.

use leptos::prelude::*;

use super::widgets::data_error;
use crate::data::api_operations;
use crate::model::ApiOperation;

/// The API reference page.
#[component]
pub fn ApiDocsPage() -> impl IntoView {
    let data = Resource::new(|| (), |()| api_operations());
    view! {
        <h1>"API"</h1>
        <p>
            "Everything the dashboard shows is also JSON under " <code>"/api/v1"</code>
            ". Send a personal API token (" <a href="/settings">"Settings"</a> ") as "
            <code>"Authorization: Bearer …"</code> ", or sign in with " <code>"POST /api/v1/login"</code>
            ". The machine-readable description is "
            <a href="/api/v1/openapi.json" id="openapi-link">"openapi.json"</a> " (OpenAPI 3.1). A call below its
            role's rank gets " <code>"403"</code> ", one without a session or token " <code>"401"</code> "."
        </p>
        <Suspense fallback=super::loading>
            {move || Suspend::new(async move {
                let operations = match data.await {
                    Ok(operations) => operations,
                    Err(error) => return data_error(&error),
                };
                view! {
                    <div class="table-x"><table id="api-operations">
                        <thead><tr><th>"Method"</th><th>"Path"</th><th>"What it does"</th><th>"Who"</th>
                            <th>"Parameters"</th><th>"Answers"</th></tr></thead>
                        <tbody>{operations.into_iter().map(operation_row).collect_view()}</tbody>
                    </table></div>
                }.into_any()
            })}
        </Suspense>
    }
}

fn operation_row(operation: ApiOperation) -> impl IntoView {
    let id = format!(
        "op-{}-{}",
        operation.method.to_lowercase(),
        operation
            .path
            .trim_start_matches("/api/v1/")
            .replace(['/', '{', '}', '.'], "-")
    );
    let body = (!operation.request_body.is_empty()).then(|| {
        view! { <div class="muted">"Body: " {with_code(&operation.request_body)}</div> }
    });
    view! {
        <tr id=id>
            <td><code>{operation.method}</code></td>
            <td><code>{operation.path}</code></td>
            <td>{with_code(&operation.summary)}{body}</td>
            <td class="who">{operation.who}</td>
            <td>
                <ul class="plain">
                    {operation.parameters.into_iter().map(|parameter| view! {
                        <li>
                            <code>{parameter.name}</code>
                            {format!(" ({}{})", parameter.location, if parameter.required { ", required" } else { "" })}
                            {(!parameter.description.is_empty()).then(|| view! { ": " {with_code(&parameter.description)} })}
                        </li>
                    }).collect_view()}
                </ul>
            </td>
            <td>
                <ul class="plain">
                    {operation.responses.into_iter().map(|response| view! {
                        <li><code>{response.status}</code>" " {with_code(&response.description)}</li>
                    }).collect_view()}
                </ul>
            </td>
        </tr>
    }
}

/// Text with its `code` spans (the doc comments' Markdown backticks) as `<code>`.
fn with_code(text: &str) -> impl IntoView + use<> {
    text.split('`')
        .enumerate()
        .map(|(index, part)| {
            if index % 2 == 1 {
                view! { <code>{part.to_owned()}</code> }.into_any()
            } else {
                part.to_owned().into_any()
            }
        })
        .collect_view()
}
