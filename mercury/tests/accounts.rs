//! A user signs in, fails to sign in, signs up, changes their password and signs out, in headless Chromium
//! against a dashboard on real servers. Screenshots go to the test output directory.

#![allow(clippy::unwrap_used)]

mod common;

use common::{
    ADMIN_PASSWORD, Dashboard, USER_PASSWORD, browser, create_user, fill, find, hydrated, screenshot,
    sign_in, text, wait_for_path,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_page_is_rendered_on_the_server_and_hydrated_in_the_browser() {
    let dashboard = Dashboard::start().await;
    let html = common::page(&common::http(), format!("{}/login", dashboard.url)).await;
    assert!(
        html.contains("Sign in") && html.contains("data-hydrated=\"false\""),
        "{html}"
    );
    assert!(html.contains("/pkg/mercury.js"), "{html}");
    let (_driver, client) = browser().await;
    client.goto(&format!("{}/login", dashboard.url)).await.unwrap();
    hydrated(&client).await;
    screenshot(&client, "login").await;
    client.close().await.unwrap();
    dashboard.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_anonymous_visitor_is_sent_to_login_and_back_to_the_page_after_signing_in() {
    let dashboard = Dashboard::start().await;
    let (_driver, client) = browser().await;
    client
        .goto(&format!("{}/sessions?q=veh-1", dashboard.url))
        .await
        .unwrap();
    let at = wait_for_path(&client, "the login page", |path| path.starts_with("/login")).await;
    assert_eq!(at, "/login?next=/sessions%3Fq%3Dveh-1");
    hydrated(&client).await;
    fill(&client, "input[name=login]", "admin").await;
    fill(&client, "input[name=password]", ADMIN_PASSWORD).await;
    find(&client, "#sign-in").await.click().await.unwrap();
    wait_for_path(&client, "the sessions page", |path| path == "/sessions?q=veh-1").await;
    assert_eq!(text(&client, "#whoami").await, "admin");
    // The first admin still has its initial password: the dashboard says so on every page.
    assert!(text(&client, "#nag").await.contains("default admin password"));
    screenshot(&client, "signed-in-with-nag").await;
    client.close().await.unwrap();
    dashboard.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_refused_with_a_message_and_gives_no_session() {
    let dashboard = Dashboard::start().await;
    let (_driver, client) = browser().await;
    sign_in(&client, &dashboard.url, "admin", "not-the-password").await;
    wait_for_path(&client, "the login page with an error", |path| {
        path.starts_with("/login?error=credentials")
    })
    .await;
    assert_eq!(
        text(&client, "#notice").await,
        "Wrong username/email or password."
    );
    screenshot(&client, "login-failed").await;
    client.goto(&format!("{}/", dashboard.url)).await.unwrap();
    wait_for_path(&client, "the login page", |path| path.starts_with("/login")).await;
    client.close().await.unwrap();
    dashboard.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_user_signs_up_changes_the_password_signs_out_and_only_the_new_password_works() {
    let dashboard = Dashboard::start_with(&["--open-signup"]).await;
    let (_driver, client) = browser().await;
    client.goto(&format!("{}/signup", dashboard.url)).await.unwrap();
    fill(&client, "input[name=username]", "dispatcher").await;
    fill(&client, "input[name=email]", "dispatch@example.com").await;
    fill(&client, "input[name=password]", "first-password").await;
    fill(&client, "input[name=password_confirm]", "first-password").await;
    find(&client, "#sign-up").await.click().await.unwrap();
    wait_for_path(&client, "the overview", |path| path == "/").await;
    assert_eq!(text(&client, "#whoami").await, "dispatcher");
    assert!(
        client.find(fantoccini::Locator::Css("#nag")).await.is_err(),
        "only the default admin is nagged"
    );

    client.goto(&format!("{}/settings", dashboard.url)).await.unwrap();
    fill(&client, "input[name=current_password]", "first-password").await;
    fill(&client, "input[name=new_password]", "second-password").await;
    fill(&client, "input[name=new_password_confirm]", "second-password").await;
    find(&client, "#change-password").await.click().await.unwrap();
    wait_for_path(&client, "the settings page", |path| {
        path == "/settings?done=password_changed"
    })
    .await;
    assert!(text(&client, "#notice").await.starts_with("Password changed"));
    screenshot(&client, "password-changed").await;

    find(&client, "#logout").await.click().await.unwrap();
    wait_for_path(&client, "the login page", |path| path == "/login?done=signed_out").await;
    client.goto(&format!("{}/settings", dashboard.url)).await.unwrap();
    wait_for_path(&client, "the login page", |path| path.starts_with("/login?next=")).await;

    sign_in(&client, &dashboard.url, "dispatcher", "first-password").await;
    wait_for_path(&client, "a refused login", |path| {
        path.starts_with("/login?error=credentials")
    })
    .await;
    sign_in(&client, &dashboard.url, "dispatch@example.com", "second-password").await;
    wait_for_path(&client, "the overview", |path| path == "/").await;
    assert_eq!(text(&client, "#whoami").await, "dispatcher");
    client.close().await.unwrap();
    dashboard.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_edits_the_profile_theme_and_units_then_deletes_the_account() {
    let dashboard = Dashboard::start().await;
    create_user(&dashboard.url, "editor", "dispatcher").await;
    let (_driver, client) = browser().await;
    sign_in(&client, &dashboard.url, "editor", USER_PASSWORD).await;
    wait_for_path(&client, "the overview", |path| path == "/").await;
    client.goto(&format!("{}/settings", dashboard.url)).await.unwrap();
    fill(&client, "#profile-form input[name=username]", "chief").await;
    fill(&client, "#profile-form input[name=email]", "chief@example.com").await;
    find(&client, "#profile-form select[name=theme]")
        .await
        .select_by_value("dark")
        .await
        .unwrap();
    find(&client, "#profile-form select[name=units]")
        .await
        .select_by_value("mi")
        .await
        .unwrap();
    find(&client, "#save-profile").await.click().await.unwrap();
    wait_for_path(&client, "the settings page", |path| {
        path == "/settings?done=profile_saved"
    })
    .await;
    assert_eq!(text(&client, "#whoami").await, "chief");
    let theme = client
        .execute("return document.documentElement.dataset.theme", vec![])
        .await
        .unwrap();
    assert_eq!(theme, serde_json::json!("dark"));
    client.goto(&format!("{}/", dashboard.url)).await.unwrap();
    let miles = dashboard.fleet.distance_today_km() / 1.609_344;
    assert_eq!(
        text(&client, "#kpi-distance .kpi-value").await,
        format!("{miles:.1} mi")
    );
    screenshot(&client, "dark-theme-miles").await;

    client.goto(&format!("{}/settings", dashboard.url)).await.unwrap();
    fill(&client, "#delete-form input[name=password]", "wrong-password").await;
    find(&client, "#delete-account").await.click().await.unwrap();
    wait_for_path(&client, "a refusal", |path| {
        path == "/settings?error=current_password"
    })
    .await;
    fill(&client, "#delete-form input[name=password]", USER_PASSWORD).await;
    find(&client, "#delete-account").await.click().await.unwrap();
    wait_for_path(&client, "the login page", |path| {
        path == "/login?done=account_deleted"
    })
    .await;
    sign_in(&client, &dashboard.url, "chief", USER_PASSWORD).await;
    wait_for_path(&client, "a refused login", |path| {
        path.starts_with("/login?error=credentials")
    })
    .await;
    client.close().await.unwrap();
    dashboard.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_invites_a_dispatcher_who_signs_up_with_the_link_and_makes_an_api_token() {
    let dashboard = Dashboard::start().await;
    let (_driver, client) = browser().await;
    sign_in(&client, &dashboard.url, "admin", ADMIN_PASSWORD).await;
    wait_for_path(&client, "the overview", |path| path == "/").await;
    find(&client, "#nav-users").await.click().await.unwrap();
    wait_for_path(&client, "the users page", |path| path == "/admin/users").await;
    hydrated(&client).await;
    find(&client, "#invite-form select[name=role]")
        .await
        .select_by_value("dispatcher")
        .await
        .unwrap();
    find(&client, "#create-invite").await.click().await.unwrap();
    let link = find(&client, "#invite-link")
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    assert!(link.contains("/signup?invite=ppi_"), "{link}");
    screenshot(&client, "admin-users-invite").await;
    find(&client, "#logout").await.click().await.unwrap();
    wait_for_path(&client, "the login page", |path| path.starts_with("/login")).await;

    client.goto(&link).await.unwrap();
    assert!(
        client
            .find(fantoccini::Locator::Css("#signup-closed"))
            .await
            .is_err()
    );
    fill(&client, "input[name=username]", "dispatch-1").await;
    fill(&client, "input[name=email]", "dispatch-1@example.com").await;
    fill(&client, "input[name=password]", USER_PASSWORD).await;
    fill(&client, "input[name=password_confirm]", USER_PASSWORD).await;
    find(&client, "#sign-up").await.click().await.unwrap();
    wait_for_path(&client, "the overview", |path| path == "/").await;
    assert_eq!(text(&client, "#whoami").await, "dispatch-1");
    assert!(
        client.find(fantoccini::Locator::Css("#nav-users")).await.is_err(),
        "not an admin"
    );

    client.goto(&format!("{}/settings", dashboard.url)).await.unwrap();
    hydrated(&client).await;
    fill(&client, "#token-form input[name=name]", "spreadsheet").await;
    find(&client, "#create-token").await.click().await.unwrap();
    let token = find(&client, "#new-token")
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    assert!(token.starts_with("pp_"), "{token}");
    find(&client, "#api-tokens tr[data-token=spreadsheet]").await;
    screenshot(&client, "settings-api-token").await;
    let overview = common::http()
        .get(format!("{}/api/v1/overview", dashboard.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(overview.status(), 200);
    client.close().await.unwrap();
    dashboard.stop().await;
}
