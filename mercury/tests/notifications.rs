//! Alerts delivered beyond the browser, to a real HTTP receiver and a real SMTP server (aiosmtpd from PyPI), by
//! the mercury binary: every alert reaches the webhook signed with its secret and each subscribed user by email;
//! a webhook's failed first answer is retried; Mercury killed with SIGKILL mid-run and restarted loses nothing;
//! a replay of the whole alerts topic sends nothing again; and a mail server that hangs delays no webhook.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use chrono::Utc;
use common::{ADMIN_PASSWORD, USER_PASSWORD, create_user, http, http_sign_in, server_args};
use hmac::{KeyInit, Mac};
use packetpulse_model::{Alert, AlertKind, GeoPoint, alert_id};
use packetpulse_testkit::{
    ServerProcess, SmtpServer, free_port, shared_clickhouse, shared_kafka, wait_until,
};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::{Value, json};
use uuid::Uuid;

/// What the receiver saw of one alert.
#[derive(Debug, Default, Clone)]
struct Received {
    /// Requests, in order, with their attempt header.
    attempts: Vec<String>,
    /// Requests answered 200.
    accepted: u32,
}

/// An HTTP receiver on a free port: checks every body's signature against `secret` (refusing a bad one with 401,
/// which the test then sees as a missing delivery), refuses the first request of every alert with 503, and
/// accepts the rest after 100 ms.
async fn start_receiver(secret: Arc<Mutex<String>>) -> (String, Arc<Mutex<BTreeMap<String, Received>>>) {
    let seen: Arc<Mutex<BTreeMap<String, Received>>> = Arc::default();
    let record = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let seen = record.clone();
            let secret = secret.lock().unwrap().clone();
            async move {
                let header = |name: &str| {
                    headers
                        .get(name)
                        .and_then(|value| value.to_str().ok())
                        .unwrap_or_default()
                        .to_owned()
                };
                let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
                mac.update(&body);
                let expected: String = mac
                    .finalize()
                    .into_bytes()
                    .iter()
                    .map(|byte| format!("{byte:02x}"))
                    .collect();
                if header("x-packetpulse-signature") != format!("sha256={expected}") {
                    return StatusCode::UNAUTHORIZED;
                }
                let alert: Alert = serde_json::from_slice(&body).unwrap();
                assert_eq!(header("x-packetpulse-alert-id"), alert.alert_id.to_string());
                let first = {
                    let mut seen = seen.lock().unwrap();
                    let entry = seen.entry(alert.alert_id.to_string()).or_default();
                    entry.attempts.push(header("x-packetpulse-attempt"));
                    if entry.attempts.len() > 1 {
                        entry.accepted += 1;
                    }
                    entry.attempts.len() == 1
                };
                if first {
                    return StatusCode::SERVICE_UNAVAILABLE;
                }
                // A receiver that takes its time: the kill below finds deliveries in flight.
                tokio::time::sleep(Duration::from_millis(100)).await;
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

/// How many alerts the receiver has accepted at least once.
fn accepted_alerts(received: &Mutex<BTreeMap<String, Received>>) -> usize {
    received
        .lock()
        .unwrap()
        .values()
        .filter(|seen| seen.accepted > 0)
        .count()
}

fn alert(number: u32, kind: AlertKind) -> Alert {
    let session_id = format!("notify-{number}");
    let trigger = Uuid::new_v4();
    Alert {
        alert_id: alert_id(kind, &session_id, "", trigger),
        kind,
        session_id,
        vehicle_id: format!("van-{number}"),
        geofence_id: None,
        trigger_event_id: trigger,
        at: Utc::now(),
        position: GeoPoint::new(37.98, 23.72),
        message: format!("vehicle \"van-{number}\": test alert {number}"),
    }
}

async fn publish(topic: &str, alerts: &[Alert]) {
    let producer: FutureProducer = shared_kafka().unwrap().client_config().create().unwrap();
    for alert in alerts {
        let payload = serde_json::to_vec(alert).unwrap();
        producer
            .send(
                FutureRecord::to(topic).key(&alert.session_id).payload(&payload),
                Duration::from_secs(10),
            )
            .await
            .unwrap();
    }
}

/// A seeded, empty ClickHouse database and a fresh topic prefix with its alerts topic:
/// `(database, topic, alerts_topic)`.
async fn fresh_database_and_topics(prefix: &str) -> (String, String, String) {
    let kafka = shared_kafka().unwrap();
    let (database, client) = shared_clickhouse().unwrap().fresh_database().await.unwrap();
    common::seed(&client, &database, [Vec::new()]).await;
    let topic = kafka.create_unique_topic(prefix, 1).await.unwrap();
    let alerts_topic = format!("{topic}.alerts");
    kafka.create_topic(&alerts_topic, 1).await.unwrap();
    (database, topic, alerts_topic)
}

/// Adds a webhook for every kind to `hook_url` as `admin`; returns its secret.
async fn add_webhook(admin: &reqwest::Client, base: &str, hook_url: &str) -> String {
    let created = admin
        .post(format!("{base}/api/v1/webhooks"))
        .json(&json!({"name": "dispatch desk", "url": hook_url, "kinds": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    created["secret"].as_str().unwrap().to_owned()
}

/// An SMTP server that accepts connections and never says a word, not even its greeting (a relay that hung):
/// returns its `smtp://` URL; the sockets stay open as long as the test runs.
async fn start_silent_smtp() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("smtp://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    url
}

/// The mercury binary with the test servers and the notification settings.
struct Mercury {
    process: ServerProcess,
    url: String,
}

impl Mercury {
    /// Mercury with each attempt bounded by `notify_timeout`.
    fn start(dir: &Path, database: &str, topic: &str, smtp_url: &str, notify_timeout: &str) -> Self {
        let port = free_port().unwrap();
        let mut args = vec![format!("--listen=127.0.0.1:{port}")];
        args.extend(server_args(database, topic));
        args.extend([
            format!("--database={}", dir.join("users.db").display()),
            format!("--smtp-url={smtp_url}"),
            "--notify-retry-base=200ms".to_owned(),
            format!("--notify-timeout={notify_timeout}"),
        ]);
        let program = PathBuf::from(env!("CARGO_BIN_EXE_mercury"));
        let process = ServerProcess::start("mercury", &program, args, dir).unwrap();
        Self {
            process,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    async fn healthy(&mut self) {
        let url = format!("{}/health", self.url);
        let result = wait_until("mercury answers /health", Duration::from_secs(60), || {
            let url = url.clone();
            async move {
                match reqwest::get(url).await {
                    Ok(response) if response.status().is_success() => Ok(Some(())),
                    Ok(response) => Err(format!("status {}", response.status())),
                    Err(error) => Err(error.to_string()),
                }
            }
        })
        .await;
        if let Err(error) = result {
            panic!("{error}\n{}", self.process.log_tail(40));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_alert_reaches_the_webhook_and_the_subscribers_once_across_a_kill_and_a_replay() {
    let (database, topic, alerts_topic) = fresh_database_and_topics("mercury-notify").await;
    let dir = tempfile::tempdir().unwrap();
    let smtp = SmtpServer::start(dir.path()).unwrap();
    let secret = Arc::new(Mutex::new(String::new()));
    let (hook_url, received) = start_receiver(secret.clone()).await;

    let mut mercury = Mercury::start(dir.path(), &database, &topic, &smtp.url(), "2s");
    mercury.healthy().await;
    let base = mercury.url.clone();
    let admin = http();
    http_sign_in(&admin, &base, "admin", ADMIN_PASSWORD).await;
    *secret.lock().unwrap() = add_webhook(&admin, &base, &hook_url).await;
    let listed: Value = common::json(admin.get(format!("{base}/api/v1/webhooks"))).await;
    assert_eq!(listed[0]["url"], hook_url);
    assert!(
        listed[0].get("secret").is_none(),
        "the secret is shown once: {listed}"
    );
    // A bad kind is a clear error.
    let refused = admin
        .put(format!("{base}/api/v1/me/email-alerts"))
        .json(&json!({"kinds": ["speeding"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    // Dora gets overspeed and idle by email; the admin gets offline.
    create_user(&base, "dora", "dispatcher").await;
    let dora = http();
    http_sign_in(&dora, &base, "dora", USER_PASSWORD).await;
    for (client, kinds) in [
        (&dora, json!(["overspeed", "idle"])),
        (&admin, json!(["offline"])),
    ] {
        let saved = client
            .put(format!("{base}/api/v1/me/email-alerts"))
            .json(&json!({ "kinds": kinds }))
            .send()
            .await
            .unwrap();
        assert_eq!(saved.status(), 200);
        let saved: Value = saved.json().await.unwrap();
        assert_eq!(
            saved["kinds"].as_array().unwrap().len(),
            kinds.as_array().unwrap().len()
        );
        assert_eq!(saved["enabled"], true);
    }

    let kinds = [
        AlertKind::Overspeed,
        AlertKind::Idle,
        AlertKind::Offline,
        AlertKind::Abandoned,
    ];
    let alerts: Vec<Alert> = (0..40)
        .map(|n| alert(n, kinds[n as usize % kinds.len()]))
        .collect();
    let user_id = |name: &str| if name == "admin" { 1 } else { 2 };
    let mut expected_mail = BTreeSet::new();
    for alert in &alerts {
        let to = match alert.kind {
            AlertKind::Overspeed | AlertKind::Idle => Some("dora"),
            AlertKind::Offline => Some("admin"),
            _ => None,
        };
        if let Some(to) = to {
            expected_mail.insert(format!("<{}.{}@packetpulse>", alert.alert_id, user_id(to)));
        }
    }
    publish(&alerts_topic, &alerts[..20]).await;
    // Kill the binary once some deliveries went out and others are still under way.
    wait_until("the first deliveries", Duration::from_secs(60), || {
        let accepted = accepted_alerts(&received);
        async move { Ok::<_, String>((accepted >= 1).then_some(())) }
    })
    .await
    .unwrap();
    mercury.process.kill();
    println!(
        "killed with {} of 20 alerts accepted by the webhook",
        accepted_alerts(&received)
    );
    publish(&alerts_topic, &alerts[20..]).await;
    mercury.process.restart().unwrap();
    mercury.healthy().await;

    let (hooks_wanted, mails_wanted) = (alerts.len(), expected_mail.len());
    let delivered = wait_until("every alert delivered", Duration::from_secs(120), || {
        let accepted = accepted_alerts(&received);
        let mailed = smtp.message_ids().len();
        async move {
            if accepted == hooks_wanted && mailed == mails_wanted {
                Ok(Some(()))
            } else {
                Err(format!("{accepted} webhook deliveries, {mailed} mails"))
            }
        }
    })
    .await;
    if let Err(error) = delivered {
        panic!("{error}\n{}", mercury.process.log_tail(40));
    }

    // A replay of the whole topic, then one new alert: once that arrives, the replay has been read.
    publish(&alerts_topic, &alerts).await;
    let last = alert(99, AlertKind::Overspeed);
    expected_mail.insert(format!("<{}.2@packetpulse>", last.alert_id));
    publish(&alerts_topic, std::slice::from_ref(&last)).await;
    wait_until("the alert after the replay", Duration::from_secs(60), || {
        let done = received
            .lock()
            .unwrap()
            .get(&last.alert_id.to_string())
            .is_some_and(|seen| seen.accepted > 0)
            && smtp.message_ids().len() == expected_mail.len();
        async move { Ok::<_, String>(done.then_some(())) }
    })
    .await
    .unwrap();

    let received = received.lock().unwrap().clone();
    let ids: BTreeSet<String> = alerts
        .iter()
        .chain([&last])
        .map(|alert| alert.alert_id.to_string())
        .collect();
    assert_eq!(received.keys().cloned().collect::<BTreeSet<_>>(), ids);
    // At least once: only a delivery in flight when the process was killed may come twice.
    let twice: Vec<_> = received.iter().filter(|(_, seen)| seen.accepted > 1).collect();
    println!("accepted twice (in flight at the kill): {}", twice.len());
    assert!(twice.len() <= 8, "{twice:?}");
    for (id, seen) in &received {
        // The refused first attempt was retried.
        assert!(
            seen.attempts.len() >= 2 && seen.attempts[0] == "1",
            "{id}: {seen:?}"
        );
    }
    let mailed = smtp.message_ids();
    assert_eq!(mailed.keys().cloned().collect::<BTreeSet<_>>(), expected_mail);
    assert!(
        mailed.values().filter(|count| **count > 1).count() <= 8,
        "{mailed:?}"
    );

    // The delivery log (dispatchers) shows them all delivered — those in flight at the kill once their lease
    // ran out and they were sent again; a viewer may not read it.
    let want = ids.len() + expected_mail.len();
    let log: Value = wait_until("every delivery recorded", Duration::from_secs(60), || {
        let request = dora.get(format!("{base}/api/v1/deliveries?status=delivered&per_page=200"));
        async move {
            let log: Value = common::json(request).await;
            if log["total"] == want {
                Ok(Some(log))
            } else {
                Err(format!("{} of {want} delivered", log["total"]))
            }
        }
    })
    .await
    .unwrap();
    let webhook_row = log["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["channel"] == "webhook:1")
        .unwrap();
    assert!(webhook_row["attempts"].as_u64().unwrap() >= 2, "{webhook_row}");
    create_user(&base, "vera", "viewer").await;
    let vera = http();
    http_sign_in(&vera, &base, "vera", USER_PASSWORD).await;
    let refused = vera
        .get(format!("{base}/api/v1/deliveries"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    mercury.process.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mail_server_that_never_answers_holds_up_no_webhook() {
    let (database, topic, alerts_topic) = fresh_database_and_topics("mercury-silent-smtp").await;
    let dir = tempfile::tempdir().unwrap();
    let smtp_url = start_silent_smtp().await;
    let secret = Arc::new(Mutex::new(String::new()));
    let (hook_url, received) = start_receiver(secret.clone()).await;
    let mut mercury = Mercury::start(dir.path(), &database, &topic, &smtp_url, "10s");
    mercury.healthy().await;
    let base = mercury.url.clone();
    let admin = http();
    http_sign_in(&admin, &base, "admin", ADMIN_PASSWORD).await;
    *secret.lock().unwrap() = add_webhook(&admin, &base, &hook_url).await;
    // Two subscribers: two email channels, one relay.
    create_user(&base, "dora", "dispatcher").await;
    let dora = http();
    http_sign_in(&dora, &base, "dora", USER_PASSWORD).await;
    for client in [&admin, &dora] {
        let subscribed = client
            .put(format!("{base}/api/v1/me/email-alerts"))
            .json(&json!({"kinds": ["overspeed"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(subscribed.status(), 200);
    }
    let email_log = |admin: &reqwest::Client| {
        let request = admin.get(format!("{base}/api/v1/deliveries?per_page=200"));
        async move {
            let log: Value = common::json(request).await;
            let rows: Vec<Value> = log["rows"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|row| row["channel"].as_str().unwrap().starts_with("email:"))
                .cloned()
                .collect();
            rows
        }
    };

    // Four times as many mails as the sender sends at once: each would hold a slot for good if nothing bounded
    // it, and the webhook's deliveries would wait behind them if the mails (to two users through one relay)
    // could take more than the relay's share of the slots.
    let alerts: Vec<Alert> = (0..16).map(|n| alert(n, AlertKind::Overspeed)).collect();
    publish(&alerts_topic, &alerts).await;
    let delivered = wait_until("every webhook delivery", Duration::from_secs(60), || {
        let accepted = accepted_alerts(&received);
        async move {
            if accepted == 16 {
                Ok(Some(()))
            } else {
                Err(format!("{accepted} of 16 accepted by the webhook"))
            }
        }
    })
    .await;
    if let Err(error) = delivered {
        panic!("{error}\n{}", mercury.process.log_tail(40));
    }
    // All of it while the first mails still hung in their first attempt (10 s).
    let rows = email_log(&admin).await;
    assert_eq!(rows.len(), 32, "{rows:?}");
    assert!(rows.iter().all(|row| row["attempts"] == 0), "{rows:?}");

    // The mails are not lost: each attempt ends at the timeout with a clear reason and the row waits for a retry.
    let rows = wait_until("the first mail attempts ended", Duration::from_secs(60), || {
        let request = email_log(&admin);
        async move {
            let rows = request.await;
            let ended = rows
                .iter()
                .filter(|row| row["attempts"].as_u64() > Some(0))
                .count();
            if ended >= 4 {
                Ok(Some(rows))
            } else {
                Err(format!("{ended} mail attempts ended"))
            }
        }
    })
    .await
    .unwrap();
    for row in &rows {
        assert_eq!(row["status"], "pending", "{row}");
        if row["attempts"].as_u64() > Some(0) {
            assert_eq!(row["last_error"], "no answer within 10s", "{row}");
        }
    }
    mercury.process.stop();
}
