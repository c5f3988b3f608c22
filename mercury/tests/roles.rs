//! Roles and the route table: every declared route refuses anonymous callers and the roles below its own (a walk
//! over `access::rules::RULES`, not a list written here), undeclared routes are not found, and the account
//! defects review found stay fixed: user ids are never reused by a session, `next` never leaves the site,
//! cross-site form posts are refused, sign-up is closed without an invitation, account changes are throttled,
//! disabled users and revoked API tokens stop working, and no change leaves the dashboard without an admin. Every
//! story runs on both account databases: SQLite (the native run) and PostgreSQL (compose).

#![allow(clippy::unwrap_used)]

mod common;

use common::{ADMIN_PASSWORD, Backend, Dashboard, http, http_sign_in, json};
use mercury::model::Role;
use mercury::server::access::rules::{Access, RULES};
use reqwest::StatusCode;
use serde_json::Value;

const PASSWORD: &str = "a-role-test-password";

/// Creates `username` with `role` through the admin form and returns a client signed in as them.
async fn user_with_role(base: &str, admin: &reqwest::Client, username: &str, role: Role) -> reqwest::Client {
    let created = admin
        .post(format!("{base}/admin/users"))
        .form(&[
            ("username", username),
            ("email", &format!("{username}@example.com")),
            ("password", PASSWORD),
            ("role", role.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        created.headers()["location"],
        "/admin/users?done=user_created",
        "creating {username}"
    );
    let client = http();
    let signed_in = http_sign_in(&client, base, username, PASSWORD).await;
    assert_eq!(signed_in.headers()["location"], "/", "signing in as {username}");
    client
}

/// A dashboard on `backend` (with `flags`), its URL, and a client signed in as its admin.
async fn with_admin(backend: Backend, flags: &[&str]) -> (Dashboard, String, reqwest::Client) {
    let dashboard = Dashboard::start_on(backend, flags).await;
    let base = dashboard.url.clone();
    let admin = admin(&base).await;
    (dashboard, base, admin)
}

async fn admin(base: &str) -> reqwest::Client {
    let client = http();
    http_sign_in(&client, base, "admin", ADMIN_PASSWORD).await;
    client
}

/// A concrete path for a route pattern.
fn concrete(pattern: &str) -> String {
    pattern
        .split('/')
        .map(|segment| if segment.starts_with('{') { "1" } else { segment })
        .collect::<Vec<_>>()
        .join("/")
}

/// The answer to a call: its status, and where it redirects to (empty when it does not).
struct Answer {
    status: StatusCode,
    location: String,
}

async fn call(client: &reqwest::Client, method: &str, url: &str) -> Answer {
    let request = match method {
        "GET" => client.get(url),
        "PUT" => client.put(url).json(&serde_json::json!({"probe": 1})),
        "DELETE" => client.delete(url),
        _ => client.post(url).form(&[("probe", "1")]),
    };
    let response = request.send().await.unwrap();
    let answer = Answer {
        status: response.status(),
        location: response
            .headers()
            .get("location")
            .map(|value| value.to_str().unwrap().to_owned())
            .unwrap_or_default(),
    };
    // Read the page to its end, as a browser does (callers that hang up are security.rs's concern).
    response.bytes().await.unwrap();
    answer
}

/// What a refusal for lack of a session looks like: 401 on the APIs, a redirect to the login page otherwise
/// (back to the page afterwards for a GET).
fn is_sign_in_first(answer: &Answer) -> bool {
    answer.status == StatusCode::UNAUTHORIZED
        || answer.status == StatusCode::SEE_OTHER
            && (answer.location == "/login" || answer.location.starts_with("/login?next="))
}

async fn every_route_refuses_anonymous_callers_and_the_roles_below_its_own(backend: Backend) {
    let (dashboard, base, admin) = with_admin(backend, &[]).await;
    let viewer = user_with_role(&base, &admin, "role-viewer", Role::Viewer).await;
    let dispatcher = user_with_role(&base, &admin, "role-dispatcher", Role::Dispatcher).await;
    let anonymous = http();
    let clients = [
        (Role::Viewer, &viewer),
        (Role::Dispatcher, &dispatcher),
        (Role::Admin, &admin),
    ];
    let mut walked = 0;
    for rule in RULES {
        // Routes that end a session or delete their caller are walked with callers made for the purpose.
        if matches!(rule.path, "/logout" | "/settings/delete") || rule.path.starts_with("/admin/users/{id}") {
            continue;
        }
        let url = format!("{base}{}", concrete(rule.path));
        let anonymous_answer = call(&anonymous, rule.method, &url).await;
        let what = format!("{} {}", rule.method, rule.path);
        match rule.access {
            Access::Public => assert!(
                !is_sign_in_first(&anonymous_answer) && anonymous_answer.status != StatusCode::FORBIDDEN,
                "{what} is public but refused anonymous: {} {}",
                anonymous_answer.status,
                anonymous_answer.location
            ),
            Access::Signed(needed) => {
                assert!(
                    is_sign_in_first(&anonymous_answer),
                    "{what} let an anonymous caller in: {}",
                    anonymous_answer.status
                );
                for (role, client) in clients {
                    let answer = call(client, rule.method, &url).await;
                    if role < needed {
                        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{what} as {role:?}");
                    } else {
                        assert!(
                            answer.status != StatusCode::FORBIDDEN && !is_sign_in_first(&answer),
                            "{what} refused {role:?}: {} {}",
                            answer.status,
                            answer.location
                        );
                    }
                }
            }
        }
        walked += 1;
    }
    assert!(walked >= 40, "walked only {walked} routes");
    // The admin forms on a user: refused below admin, whatever the target.
    for action in ["role", "disable", "enable", "delete"] {
        let url = format!("{base}/admin/users/1/{action}");
        assert!(is_sign_in_first(&call(&anonymous, "POST", &url).await));
        for client in [&viewer, &dispatcher] {
            assert_eq!(
                call(client, "POST", &url).await.status,
                StatusCode::FORBIDDEN,
                "{action}"
            );
        }
    }
    // Undeclared routes are not found, for everyone.
    for path in ["/api/v1/secret", "/admin", "/api/fn/unknown"] {
        assert_eq!(
            call(&admin, "GET", &format!("{base}{path}")).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    dashboard.stop().await;
}

async fn a_deleted_users_cookie_does_not_open_the_next_account(backend: Backend) {
    let (dashboard, base, admin) = with_admin(backend, &[]).await;
    let first = user_with_role(&base, &admin, "first-user", Role::Viewer).await;
    let me: Value = json(first.get(format!("{base}/api/v1/me"))).await;
    let id = me["id"].as_i64().unwrap();
    let deleted = admin
        .post(format!("{base}/admin/users/{id}/delete"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.headers()["location"], "/admin/users?done=user_deleted");
    // SQLite hands the same integer id to the next user; the old cookie must not become theirs.
    let second = user_with_role(&base, &admin, "second-user", Role::Dispatcher).await;
    let second_me: Value = json(second.get(format!("{base}/api/v1/me"))).await;
    if backend == Backend::Sqlite {
        // SQLite hands the deleted user's id to the next one (PostgreSQL's sequence never does).
        assert_eq!(
            second_me["id"].as_i64(),
            Some(id),
            "the repro needs the id reused"
        );
    }
    let stale = first.get(format!("{base}/api/v1/me")).send().await.unwrap();
    assert_eq!(stale.status(), StatusCode::UNAUTHORIZED);
    dashboard.stop().await;
}

async fn next_after_login_never_leaves_the_site(backend: Backend) {
    let dashboard = Dashboard::start_on(backend, &[]).await;
    for next in [
        "/%09/evil.example",
        "/\t/evil.example",
        "//evil.example",
        "/\\evil.example",
        "https://evil.example",
    ] {
        let response = http()
            .post(format!("{}/login", dashboard.url))
            .form(&[("login", "admin"), ("password", ADMIN_PASSWORD), ("next", next)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["location"], "/", "next={next:?}");
    }
    dashboard.stop().await;
}

async fn cross_site_form_posts_are_refused_login_included(backend: Backend) {
    let (dashboard, base, admin) = with_admin(backend, &[]).await;
    for (path, form) in [
        ("/login", vec![("login", "admin"), ("password", ADMIN_PASSWORD)]),
        (
            "/admin/users",
            vec![
                ("username", "csrf"),
                ("email", "csrf@example.com"),
                ("password", PASSWORD),
                ("role", "admin"),
            ],
        ),
        (
            "/settings/profile",
            vec![
                ("username", "hijacked"),
                ("email", "x@example.com"),
                ("theme", "dark"),
                ("units", "km"),
            ],
        ),
    ] {
        for (header, value) in [
            ("origin", "https://evil.example"),
            ("sec-fetch-site", "cross-site"),
        ] {
            let response = admin
                .post(format!("{base}{path}"))
                .header(header, value)
                .form(&form)
                .send()
                .await
                .unwrap();
            assert_eq!(
                response.status(),
                StatusCode::FORBIDDEN,
                "{path} with {header}: {value}"
            );
        }
    }
    // The same post from the dashboard's own origin goes through.
    let own = admin
        .post(format!("{base}/login"))
        .header("origin", base.clone())
        .header("sec-fetch-site", "same-origin")
        .form(&[("login", "admin"), ("password", ADMIN_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(own.headers()["location"], "/");
    let users: Value = json(admin.get(format!("{base}/api/v1/users"))).await;
    assert!(
        users
            .as_array()
            .unwrap()
            .iter()
            .all(|user| user["username"] != "csrf"),
        "{users}"
    );
    dashboard.stop().await;
}

async fn sign_up_needs_an_invitation_used_once_which_sets_the_role(backend: Backend) {
    let dashboard = Dashboard::start_on(backend, &["--account-changes-per-minute=50"]).await;
    let base = dashboard.url.clone();
    let signup = |invite: &str, username: &str| {
        let (base, invite, username) = (base.clone(), invite.to_owned(), username.to_owned());
        async move {
            http()
                .post(format!("{base}/signup"))
                .form(&[
                    ("invite", invite.as_str()),
                    ("username", username.as_str()),
                    ("email", &format!("{username}@example.com")),
                    ("password", PASSWORD),
                    ("password_confirm", PASSWORD),
                ])
                .send()
                .await
                .unwrap()
                .headers()["location"]
                .to_str()
                .unwrap()
                .to_owned()
        }
    };
    assert_eq!(signup("", "walk-in").await, "/signup?error=signup_closed");
    // An admin's invitation, through the server function the users page calls.
    let admin = admin(&base).await;
    let link: String = json(
        admin
            .post(format!("{base}/api/fn/create_invite"))
            .form(&[("role", "dispatcher")]),
    )
    .await;
    let invite = link.split("invite=").nth(1).unwrap().to_owned();
    assert!(invite.starts_with("ppi_") && invite.len() > 40, "{link}");
    assert_eq!(
        signup("ppi_guessed", "guesser").await,
        format!("/signup?invite=ppi_guessed&error=invite_invalid")
    );
    assert_eq!(signup(&invite, "invited").await, "/");
    assert!(
        signup(&invite, "second-use")
            .await
            .ends_with("error=invite_invalid")
    );
    let users: Value = json(admin.get(format!("{base}/api/v1/users"))).await;
    let invited = users
        .as_array()
        .unwrap()
        .iter()
        .find(|user| user["username"] == "invited")
        .unwrap();
    assert_eq!(invited["role"], "dispatcher");
    // Viewers cannot invite.
    let viewer = user_with_role(&base, &admin, "no-inviter", Role::Viewer).await;
    let refused = viewer
        .post(format!("{base}/api/fn/create_invite"))
        .form(&[("role", "admin")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    dashboard.stop().await;
}

async fn sign_ups_password_changes_and_deletions_are_throttled(backend: Backend) {
    let dashboard = Dashboard::start_on(backend, &["--open-signup", "--account-changes-per-minute=2"]).await;
    let base = dashboard.url.clone();
    let mut outcomes = Vec::new();
    for n in 0..3 {
        let response = http()
            .post(format!("{base}/signup"))
            .form(&[
                ("username", format!("walk-in-{n}").as_str()),
                ("email", &format!("walk-in-{n}@example.com")),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ])
            .send()
            .await
            .unwrap();
        outcomes.push(response.headers()["location"].to_str().unwrap().to_owned());
    }
    assert_eq!(outcomes, ["/", "/", "/signup?error=rate_limited"]);
    let admin = admin(&base).await;
    let mut changes = Vec::new();
    for _ in 0..3 {
        let response = admin
            .post(format!("{base}/settings/password"))
            .form(&[
                ("current_password", "a-wrong-guess"),
                ("new_password", PASSWORD),
                ("new_password_confirm", PASSWORD),
            ])
            .send()
            .await
            .unwrap();
        changes.push(response.headers()["location"].to_str().unwrap().to_owned());
    }
    assert_eq!(
        changes.last().unwrap(),
        "/settings?error=rate_limited",
        "{changes:?}"
    );
    let deletion = admin
        .post(format!("{base}/settings/delete"))
        .form(&[("password", "another-guess")])
        .send()
        .await
        .unwrap();
    assert_eq!(deletion.headers()["location"], "/settings?error=rate_limited");
    dashboard.stop().await;
}

async fn api_tokens_act_as_their_user_until_revoked_and_stop_with_a_disabled_user(backend: Backend) {
    let (dashboard, base, admin) = with_admin(backend, &[]).await;
    let viewer = user_with_role(&base, &admin, "bi-tool", Role::Viewer).await;
    let token: String = json(
        viewer
            .post(format!("{base}/api/fn/create_api_token"))
            .form(&[("name", "nightly report"), ("days", "30")]),
    )
    .await;
    assert!(token.starts_with("pp_"));
    let bearer = |path: &str, token: &str| {
        let (url, token) = (format!("{base}{path}"), token.to_owned());
        async move { http().get(url).bearer_auth(token).send().await.unwrap().status() }
    };
    assert_eq!(bearer("/api/v1/overview", &token).await, StatusCode::OK);
    assert_eq!(
        bearer("/api/v1/users", &token).await,
        StatusCode::FORBIDDEN,
        "a viewer's token"
    );
    assert_eq!(
        bearer("/settings", &token).await,
        StatusCode::SEE_OTHER,
        "pages need the cookie"
    );
    assert_eq!(
        bearer("/api/v1/overview", "pp_forged").await,
        StatusCode::UNAUTHORIZED
    );
    // Listed without the token itself.
    let listed: Value = json(viewer.post(format!("{base}/api/fn/api_tokens"))).await;
    assert_eq!(listed[0]["name"], "nightly report");
    assert!(!listed.to_string().contains(&token));
    // Disabling the user stops the token; enabling brings it back; revoking ends it.
    let me: Value = json(viewer.get(format!("{base}/api/v1/me"))).await;
    let id = me["id"].as_i64().unwrap();
    admin
        .post(format!("{base}/admin/users/{id}/disable"))
        .send()
        .await
        .unwrap();
    assert_eq!(bearer("/api/v1/overview", &token).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        viewer
            .get(format!("{base}/api/v1/me"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let refused = http_sign_in(&http(), &base, "bi-tool", PASSWORD).await;
    assert_eq!(refused.headers()["location"], "/login?error=account_disabled");
    admin
        .post(format!("{base}/admin/users/{id}/enable"))
        .send()
        .await
        .unwrap();
    assert_eq!(bearer("/api/v1/overview", &token).await, StatusCode::OK);
    let viewer = http();
    http_sign_in(&viewer, &base, "bi-tool", PASSWORD).await;
    let token_id = listed[0]["id"].as_i64().unwrap();
    let revoked = viewer
        .post(format!("{base}/settings/tokens/{token_id}/revoke"))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.headers()["location"], "/settings?done=token_revoked");
    assert_eq!(bearer("/api/v1/overview", &token).await, StatusCode::UNAUTHORIZED);
    // An admin's token reads the metrics (how Prometheus scrapes them).
    let admin_token: String = json(
        admin
            .post(format!("{base}/api/fn/create_api_token"))
            .form(&[("name", "prometheus"), ("days", "")]),
    )
    .await;
    assert_eq!(bearer("/metrics", &admin_token).await, StatusCode::OK);
    assert_eq!(bearer("/metrics", "").await, StatusCode::UNAUTHORIZED);
    dashboard.stop().await;
}

async fn no_change_leaves_the_dashboard_without_an_admin(backend: Backend) {
    let (dashboard, base, admin) = with_admin(backend, &[]).await;
    let me: Value = json(admin.get(format!("{base}/api/v1/me"))).await;
    let id = me["id"].as_i64().unwrap();
    for (action, form) in [
        ("role", vec![("role", "viewer")]),
        ("disable", vec![]),
        ("delete", vec![]),
    ] {
        let response = admin
            .post(format!("{base}/admin/users/{id}/{action}"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.headers()["location"],
            "/admin/users?error=last_admin",
            "{action}"
        );
    }
    let own = admin
        .post(format!("{base}/settings/delete"))
        .form(&[("password", ADMIN_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(own.headers()["location"], "/settings?error=last_admin");
    // With a second admin, the first may step down.
    user_with_role(&base, &admin, "deputy", Role::Admin).await;
    let stepped_down = admin
        .post(format!("{base}/admin/users/{id}/role"))
        .form(&[("role", "dispatcher")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        stepped_down.headers()["location"],
        "/admin/users?done=role_changed"
    );
    dashboard.stop().await;
}

async fn tracking_links_and_device_credentials_are_kept_in_the_account_database(backend: Backend) {
    let (dashboard, base, admin) = with_admin(backend, &[]).await;
    let order = dashboard.fleet.live().order_id.clone();
    let link: String = json(
        admin
            .post(format!("{base}/api/fn/tracking_link"))
            .form(&[("order_id", order.as_str())]),
    )
    .await;
    let token = link.rsplit('/').next().unwrap();
    let tracked = http()
        .get(format!("{base}/api/v1/track/{token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(tracked.status(), StatusCode::OK);
    let device_token: String = json(admin.post(format!("{base}/api/fn/register_device")).form(&[
        ("device_id", "van-1"),
        ("vehicle_id", "veh-1"),
        ("days", "30"),
    ]))
    .await;
    assert_eq!(device_token.split('.').count(), 3, "a JWT");
    let devices: Value = json(admin.get(format!("{base}/api/v1/devices"))).await;
    assert_eq!(devices[0]["device_id"], "van-1");
    assert_eq!(devices[0]["vehicle_id"], "veh-1");
    assert!(devices[0]["revoked_at_ms"].is_null());
    dashboard.stop().await;
}

/// Runs each story on both account databases: SQLite (the native run) and PostgreSQL (compose).
macro_rules! on_both_backends {
    ($($story:ident),* $(,)?) => {
        $(
            mod $story {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$story(super::Backend::Sqlite).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$story(super::Backend::Postgres).await;
                }
            }
        )*
    };
}

on_both_backends!(
    every_route_refuses_anonymous_callers_and_the_roles_below_its_own,
    a_deleted_users_cookie_does_not_open_the_next_account,
    next_after_login_never_leaves_the_site,
    cross_site_form_posts_are_refused_login_included,
    sign_up_needs_an_invitation_used_once_which_sets_the_role,
    sign_ups_password_changes_and_deletions_are_throttled,
    api_tokens_act_as_their_user_until_revoked_and_stop_with_a_disabled_user,
    no_change_leaves_the_dashboard_without_an_admin,
    tracking_links_and_device_credentials_are_kept_in_the_account_database,
);
