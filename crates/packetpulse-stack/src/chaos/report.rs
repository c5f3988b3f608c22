//! The chaos run's figures and the table it prints.

use std::fmt;
use std::time::Duration;

use super::VICTIMS;

/// One kill and how the stack came back from it.
#[derive(Debug, Clone)]
pub struct Kill {
    /// The service killed.
    pub service: &'static str,
    /// Its PID.
    pub pid: u32,
    /// When (epoch ms).
    pub killed_at_ms: u64,
    /// Kill until up.sh had it answering its health check again.
    pub restarted_after: Duration,
    /// Kill until it did its job again (see `chaos::Probe`); `None` if it did not in time.
    pub recovered_after: Option<Duration>,
}

impl fmt::Display for Kill {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "killed {} (pid {}): healthy again after {:.1} s, ",
            self.service,
            self.pid,
            self.restarted_after.as_secs_f64()
        )?;
        match self.recovered_after {
            Some(after) => write!(f, "working again after {:.1} s", after.as_secs_f64()),
            None => write!(f, "NOT working again"),
        }
    }
}

/// One layer's rows against Mars' acknowledged events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Layer {
    /// Rows (as readers see them).
    pub rows: u64,
    /// Distinct event ids among them.
    pub distinct: u64,
    /// Acknowledged events it lacks.
    pub lost: u64,
    /// Event ids it holds that Mars never saw acknowledged.
    pub unexpected: u64,
}

impl Layer {
    /// Rows beyond the first of each event id.
    pub fn duplicated(&self) -> u64 {
        self.rows - self.distinct
    }
}

/// Every layer after the run.
#[derive(Debug, Clone, Default)]
pub struct Layers {
    /// Distinct events Mars had acknowledged.
    pub acked: u64,
    /// Bronze (Iceberg, read by pyiceberg).
    pub bronze: Layer,
    /// Bronze's snapshots.
    pub bronze_snapshots: u64,
    /// Silver's `session_movements` as read (`FINAL`).
    pub silver: Layer,
    /// Silver's rows as stored, before ClickHouse merged the copies of retried inserts.
    pub silver_stored_rows: u64,
    /// Sessions in silver.
    pub silver_sessions: u64,
    /// Sessions in gold's `session_summary`.
    pub gold_sessions: u64,
    /// Rows of gold's `session_summary` (one per session).
    pub gold_rows: u64,
}

/// Alerts silver holds against what reached the webhook receiver and the SMTP server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AlertFigures {
    /// Distinct alerts in silver's `alerts`.
    pub silver: u64,
    /// Distinct alerts the webhook accepted.
    pub webhook: u64,
    /// Silver's alerts the webhook never got.
    pub webhook_missing: u64,
    /// Alerts the webhook got that silver does not hold.
    pub webhook_unexpected: u64,
    /// Deliveries beyond the first of an alert (at least once: a kill between the answer and its record).
    pub webhook_repeats: u64,
    /// Requests whose signature did not match.
    pub bad_signatures: u64,
    /// Distinct alerts mailed.
    pub mail: u64,
    /// Silver's alerts never mailed.
    pub mail_missing: u64,
    /// Mails of alerts silver does not hold.
    pub mail_unexpected: u64,
    /// Mails beyond the first of an alert.
    pub mail_repeats: u64,
}

/// Frame acknowledgement latency over a set of events.
#[derive(Debug, Clone, Copy, Default)]
pub struct Latency {
    /// Events measured.
    pub events: u64,
    /// Median.
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
}

/// What the chaos run measured.
#[derive(Debug, Clone)]
pub struct Report {
    /// Mars' own figures.
    pub mars: mars::Summary,
    /// The layers, reconciled.
    pub layers: Layers,
    /// Every kill, in order.
    pub kills: Vec<Kill>,
    /// The alerts, through the webhook and by email.
    pub alerts: AlertFigures,
    /// Ack latency of the events acknowledged outside the kills and their recoveries.
    pub ack_outside_kills: Latency,
    /// The whole run.
    pub elapsed: Duration,
}

impl Report {
    /// What does not hold of the alert channels: silver's alerts missing at the webhook or the mailbox,
    /// unexpected ones, bad signatures.
    fn alert_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let alerts = &self.alerts;
        if alerts.silver == 0 {
            problems.push("the fleet raised no alert: the alert channels proved nothing".to_owned());
        }
        for (channel, missing, unexpected) in [
            ("the webhook", alerts.webhook_missing, alerts.webhook_unexpected),
            ("email", alerts.mail_missing, alerts.mail_unexpected),
        ] {
            if missing > 0 {
                problems.push(format!("{channel} never got {missing} of silver's alerts"));
            }
            if unexpected > 0 {
                problems.push(format!("{channel} got {unexpected} alerts silver does not hold"));
            }
        }
        if alerts.bad_signatures > 0 {
            problems.push(format!(
                "{} webhook requests with a bad signature",
                alerts.bad_signatures
            ));
        }
        problems
    }

    /// What does not hold: lost or duplicated events, unexpected ones, a service that did not recover, gold's
    /// sessions differing from silver's, an alert that did not reach both channels. Empty when the run proved
    /// its point.
    pub fn problems(&self) -> Vec<String> {
        let layers = &self.layers;
        let mut problems = Vec::new();
        for (name, layer) in [("bronze", layers.bronze), ("silver", layers.silver)] {
            if layer.lost > 0 {
                problems.push(format!("{name} lost {} acknowledged events", layer.lost));
            }
            if layer.duplicated() > 0 {
                problems.push(format!("{name} holds {} duplicate rows", layer.duplicated()));
            }
            if layer.unexpected > 0 {
                problems.push(format!(
                    "{name} holds {} events Mars never had acknowledged",
                    layer.unexpected
                ));
            }
        }
        if layers.gold_sessions != layers.silver_sessions || layers.gold_rows != layers.gold_sessions {
            problems.push(format!(
                "gold summarises {} sessions in {} rows, silver holds {}",
                layers.gold_sessions, layers.gold_rows, layers.silver_sessions
            ));
        }
        if self.mars.events_acked == 0 {
            problems.push("Mars had nothing acknowledged".to_owned());
        }
        for kill in self.kills.iter().filter(|kill| kill.recovered_after.is_none()) {
            problems.push(format!("{} did not work again after its kill", kill.service));
        }
        problems.extend(self.alert_problems());
        problems
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (mars, layers) = (&self.mars, &self.layers);
        writeln!(f, "| figure | value |")?;
        writeln!(f, "|---|---:|")?;
        let alerts = &self.alerts;
        let rows: [(&str, String); 16] = [
            ("events generated by Mars", mars.events_generated.to_string()),
            ("events acknowledged (distinct)", layers.acked.to_string()),
            ("events resent by Mars", mars.events_resent.to_string()),
            ("Mars reconnections", mars.reconnects.to_string()),
            (
                "bronze rows / distinct",
                format!("{} / {}", layers.bronze.rows, layers.bronze.distinct),
            ),
            (
                "silver rows / distinct",
                format!("{} / {}", layers.silver.rows, layers.silver.distinct),
            ),
            ("silver rows before merges", layers.silver_stored_rows.to_string()),
            (
                "lost (bronze / silver)",
                format!("{} / {}", layers.bronze.lost, layers.silver.lost),
            ),
            (
                "duplicated (bronze / silver)",
                format!("{} / {}", layers.bronze.duplicated(), layers.silver.duplicated()),
            ),
            (
                "sessions (silver / gold)",
                format!("{} / {}", layers.silver_sessions, layers.gold_sessions),
            ),
            ("bronze snapshots", layers.bronze_snapshots.to_string()),
            (
                "alerts: silver / webhook / email (distinct)",
                format!("{} / {} / {}", alerts.silver, alerts.webhook, alerts.mail),
            ),
            (
                "alerts missing / repeated (webhook; email)",
                format!(
                    "{} / {}; {} / {}",
                    alerts.webhook_missing, alerts.webhook_repeats, alerts.mail_missing, alerts.mail_repeats
                ),
            ),
            (
                "ack p50 / p99 outside kills",
                format!(
                    "{:.0} ms / {:.0} ms ({} events)",
                    self.ack_outside_kills.p50.as_secs_f64() * 1e3,
                    self.ack_outside_kills.p99.as_secs_f64() * 1e3,
                    self.ack_outside_kills.events
                ),
            ),
            (
                "ack p50 / p99 overall",
                format!(
                    "{:.0} ms / {:.0} ms",
                    mars.ack_p50.as_secs_f64() * 1e3,
                    mars.ack_p99.as_secs_f64() * 1e3
                ),
            ),
            ("wall time", format!("{:.0} s", self.elapsed.as_secs_f64())),
        ];
        for (name, value) in rows {
            writeln!(f, "| {name} | {value} |")?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "| service | kills | healthy again, each kill | working again, each kill |"
        )?;
        writeln!(f, "|---|---:|---:|---:|")?;
        for victim in VICTIMS {
            let kills: Vec<&Kill> = self.kills.iter().filter(|kill| kill.service == victim).collect();
            let each = |after: fn(&Kill) -> Option<Duration>| {
                let times: Vec<String> = kills
                    .iter()
                    .map(|&kill| {
                        after(kill).map_or("never".to_owned(), |after| {
                            format!("{:.1} s", after.as_secs_f64())
                        })
                    })
                    .collect();
                if times.is_empty() {
                    "–".to_owned()
                } else {
                    times.join(", ")
                }
            };
            writeln!(
                f,
                "| {victim} | {} | {} | {} |",
                kills.len(),
                each(|kill| Some(kill.restarted_after)),
                each(|kill| kill.recovered_after),
            )?;
        }
        Ok(())
    }
}
