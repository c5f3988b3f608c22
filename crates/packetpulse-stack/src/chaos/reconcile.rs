//! After the fleet: wait until bronze and silver caught up, then compare their event ids with Mars' log of
//! acknowledged events (bronze read by pyiceberg, an engine Neptune does not share code with; silver by ClickHouse)
//! and gold's sessions with silver's.

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use super::report::{Kill, Latency, Layer, Layers};
use super::{Acked, count};
use crate::native::{NativeStack, clickhouse_text};
use crate::{Error, repo_root};

/// After a kill, acknowledgements within this long of the recovery still count as "during the kill".
const AFTER_RECOVERY: Duration = Duration::from_secs(2);

/// Waits (up to `timeout`) until bronze and silver hold as many distinct events as Mars had acknowledged and gold
/// summarises as many sessions as silver holds, then compares them event by event.
pub(super) async fn settle(stack: &NativeStack, acked: &Acked, timeout: Duration) -> Result<Layers, Error> {
    let expected = acked.len() as u64;
    let deadline = Instant::now() + timeout;
    loop {
        let bronze = bronze(stack, None)?;
        let silver = count(
            stack,
            "SELECT uniqExact(event_id) FROM packetpulse.session_movements",
        )
        .await?;
        let silver_sessions = silver_sessions(stack).await?;
        let gold_sessions = count(
            stack,
            "SELECT uniqExact(session_id) FROM packetpulse.session_summary",
        )
        .await?;
        if bronze.distinct >= expected && silver >= expected && gold_sessions >= silver_sessions {
            break;
        }
        if Instant::now() >= deadline {
            println!(
                "chaos: the layers did not catch up within {timeout:?}: acknowledged {expected}, bronze {}, \
                 silver {silver}, sessions silver {silver_sessions} gold {gold_sessions}",
                bronze.distinct
            );
            if bronze.distinct < expected {
                post_mortem(stack, "neptune", "NEPTUNE_METRICS_PORT").await;
            }
            if silver < expected {
                post_mortem(stack, "jupiter", "JUPITER_METRICS_PORT").await;
            }
            if gold_sessions < silver_sessions {
                post_mortem(stack, "uranus", "URANUS_METRICS_PORT").await;
            }
            break;
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }

    let ids_file = stack.data().join("bronze-event-ids.txt");
    let bronze_figures = bronze(stack, Some(&ids_file))?;
    let bronze_ids = std::fs::read_to_string(&ids_file).map_err(|source| Error::Read {
        path: ids_file.clone(),
        source,
    })?;
    let silver_ids = clickhouse_text(
        &stack.clickhouse_url(),
        "SELECT event_id FROM packetpulse.session_movements FINAL",
    )
    .await
    .map_err(Error::Chaos)?;
    let silver_stored_rows = count(stack, "SELECT count() FROM packetpulse.session_movements").await?;
    let gold_rows = count(stack, "SELECT count() FROM packetpulse.session_summary").await?;
    Ok(Layers {
        acked: expected,
        bronze: compare(acked, bronze_ids.lines()),
        silver: compare(acked, silver_ids.lines()),
        silver_stored_rows,
        silver_sessions: silver_sessions(stack).await?,
        gold_sessions: count(
            stack,
            "SELECT uniqExact(session_id) FROM packetpulse.session_summary",
        )
        .await?,
        gold_rows,
        bronze_snapshots: bronze_figures.snapshots,
    })
}

/// Log lines that only say the broker was away (every consumer logs them while Kafka restarts).
const BROKER_AWAY: [&str; 4] = [
    "Connection refused",
    "AllBrokersDown",
    "BrokerTransportFailure",
    // The consumers' own warning about those (not "reading from Kafka is paused", which tells a lot).
    "Message consumption error",
];

/// What a layer that did not catch up was doing, for the run's output (CI keeps no data directory): its
/// progress metrics (a consumer's partitions and lag, rows, retries) and the last lines of its log that say more
/// than "the broker is away".
async fn post_mortem(stack: &NativeStack, service: &str, metrics_port: &str) {
    let url = format!("{}/metrics", stack.local_url(metrics_port));
    let metrics = match super::http().get(&url).send().await {
        Ok(response) => response.text().await.unwrap_or_default(),
        Err(error) => format!("{url}: {error}"),
    };
    let consumer: Vec<&str> = metrics
        .lines()
        .filter(|line| {
            !line.starts_with('#')
                && [
                    "partitions_assigned",
                    "consumer_lag",
                    "rows_",
                    "retries",
                    "fenced",
                ]
                .iter()
                .any(|part| line.contains(part))
        })
        .collect();
    println!("chaos: {service}'s metrics now:\n  {}", consumer.join("\n  "));
    let log = stack.data().join("logs").join(format!("{service}.log"));
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let telling: Vec<&str> = text
        .lines()
        .filter(|line| !BROKER_AWAY.iter().any(|noise| line.contains(noise)))
        .collect();
    let tail = &telling[telling.len().saturating_sub(60)..];
    println!(
        "chaos: the last {} lines of {} that are not about the broker being away:\n{}",
        tail.len(),
        log.display(),
        tail.join("\n")
    );
}

async fn silver_sessions(stack: &NativeStack) -> Result<u64, Error> {
    count(
        stack,
        "SELECT uniqExact(session_id) FROM packetpulse.session_movements",
    )
    .await
}

/// One layer's event ids against the acknowledged ones.
fn compare<'a>(acked: &Acked, ids: impl Iterator<Item = &'a str>) -> Layer {
    let mut rows = 0;
    let mut seen = HashSet::new();
    for id in ids {
        rows += 1;
        seen.insert(id);
    }
    Layer {
        rows,
        distinct: seen.len() as u64,
        lost: acked.keys().filter(|id| !seen.contains(id.as_str())).count() as u64,
        unexpected: seen.iter().filter(|id| !acked.contains_key(**id)).count() as u64,
    }
}

struct BronzeFigures {
    distinct: u64,
    snapshots: u64,
}

/// Bronze as pyiceberg reads it (neptune/tests/pyiceberg_tool.py); with `ids_file`, every row's event id too.
fn bronze(stack: &NativeStack, ids_file: Option<&Path>) -> Result<BronzeFigures, Error> {
    let env = stack.planet_env("neptune")?;
    let python = packetpulse_testkit::venv_program("pyiceberg-venv", "python")
        .map_err(|error| Error::Chaos(error.to_string()))?;
    let table = format!(
        "{}.{}",
        packetpulse_model::bronze::NAMESPACE,
        packetpulse_model::bronze::TABLE
    );
    let options = [
        ("catalog-name", env["ICEBERG_CATALOG_NAME"].as_str()),
        (
            "sqlite",
            env["ICEBERG_CATALOG_URI"].trim_start_matches("sqlite://"),
        ),
        ("warehouse", &env["ICEBERG_WAREHOUSE"]),
        ("table", &table),
        ("s3-endpoint", &env["S3_ENDPOINT"]),
        ("s3-region", &env["S3_REGION"]),
        ("s3-access-key-id", &env["S3_ACCESS_KEY_ID"]),
        ("s3-secret-access-key", &env["S3_SECRET_ACCESS_KEY"]),
    ];
    let mut command = Command::new(python);
    command
        .arg(repo_root().join("neptune/tests/pyiceberg_tool.py"))
        // `--option=value`: a generated secret may begin with '-', which argparse would take for an option.
        .args(options.map(|(option, value)| format!("--{option}={value}")));
    if let Some(file) = ids_file {
        command.arg("--event-ids-out").arg(file);
    }
    let output = command
        .output()
        .map_err(|error| Error::Chaos(format!("pyiceberg: {error}")))?;
    if !output.status.success() {
        return Err(Error::Chaos(format!(
            "pyiceberg could not read bronze:\n{}",
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    let report: serde_json::Value = serde_json::from_slice(&output.stdout)
        .map_err(|error| Error::Chaos(format!("pyiceberg's report: {error}")))?;
    let number = |key: &str| report.get(key).and_then(serde_json::Value::as_u64).unwrap_or(0);
    Ok(BronzeFigures {
        distinct: number("distinct_event_ids"),
        snapshots: number("snapshots"),
    })
}

/// Mars' frame acknowledgement latency, per event, over the events acknowledged outside every kill (from the
/// kill until its service recovered, plus [`AFTER_RECOVERY`]; a kill that never recovered covers the rest).
pub(super) fn ack_latency_outside(acked: &Acked, kills: &[Kill]) -> Latency {
    let windows: Vec<(u64, u64)> = kills
        .iter()
        .map(|kill| {
            let end = kill.recovered_after.map_or(u64::MAX, |after| {
                kill.killed_at_ms + (after + AFTER_RECOVERY).as_millis() as u64
            });
            (kill.killed_at_ms, end)
        })
        .collect();
    let mut latencies: Vec<u64> = acked
        .values()
        .filter(|(acked_at_ms, latency_us)| {
            let sent_at_ms = acked_at_ms.saturating_sub(latency_us / 1000);
            windows
                .iter()
                .all(|(start, end)| *acked_at_ms < *start || sent_at_ms > *end)
        })
        .map(|(_, latency_us)| *latency_us)
        .collect();
    latencies.sort_unstable();
    let quantile = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(Duration::ZERO, |us| Duration::from_micros(*us))
    };
    Latency {
        events: latencies.len() as u64,
        p50: quantile(0.5),
        p99: quantile(0.99),
    }
}
