//! The chaos run: the native stack started by `make up`'s scripts, a Mars fleet streaming through it, and every
//! service the pipeline depends on killed with SIGKILL at seeded random moments (each restarted by up.sh, as an
//! operator would), then every layer reconciled with Mars' log of acknowledged events. See the crate README.

mod alerts;
mod reconcile;
mod report;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

pub use report::{AlertFigures, Kill, Report};

use crate::Error;
use crate::native::{NativeStack, clickhouse_number};

/// What gets killed: every planet the events pass through or that serves them, and the broker.
pub const VICTIMS: [&str; 6] = ["venus", "neptune", "jupiter", "uranus", "mercury", "kafka"];

/// Events one Mars session sends with [`STEP`], on average over the ten Athens routes (measured: 1,600 sessions
/// sent 102,064 events).
const EVENTS_PER_SESSION: u64 = 64;
/// Simulated driving per event: Mars fast-forwards, so a session takes `events × interval` of wall time.
const STEP: Duration = Duration::from_secs(20);

/// The run's settings.
#[derive(Debug, Clone)]
pub struct ChaosConfig {
    /// Events to stream, roughly (whole sessions: the fleet runs until every session completes).
    pub events: u64,
    /// Vehicles driving at once.
    pub vehicles: usize,
    /// Wall time between two events of a vehicle.
    pub interval: Duration,
    /// Kills of each of [`VICTIMS`].
    pub kills_per_service: usize,
    /// Seeds the kill schedule (which service, at which point of the stream).
    pub seed: u64,
    /// `release` or `debug`: which build of the planets runs.
    pub profile: String,
    /// Where the stack keeps its data and logs.
    pub data: PathBuf,
    /// How long a killed service may take to serve again.
    pub recover_timeout: Duration,
    /// How long the layers may take to catch up once Mars is done.
    pub settle_timeout: Duration,
}

impl ChaosConfig {
    /// Sessions per vehicle for about `events` events.
    fn sessions_per_vehicle(&self) -> usize {
        let per_vehicle = self
            .events
            .div_ceil(self.vehicles.max(1) as u64 * EVENTS_PER_SESSION);
        usize::try_from(per_vehicle.max(1)).unwrap_or(usize::MAX)
    }
}

/// Mars' acknowledged events: event id → (acked_at_ms, frame latency µs) of the first acknowledgement.
type Acked = BTreeMap<String, (u64, u64)>;

/// One planned kill: `service` once Mars has `after_acked` events acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PlannedKill {
    service: &'static str,
    after_acked: u64,
}

/// Each victim `kills_per_service` times in a seeded order, at seeded points between 5 % and 85 % of the stream
/// (so each restarted service has traffic to prove it recovered).
fn plan(config: &ChaosConfig) -> Vec<PlannedKill> {
    let mut rng = SmallRng::seed_from_u64(config.seed);
    let mut services: Vec<&'static str> = VICTIMS
        .iter()
        .flat_map(|victim| std::iter::repeat_n(*victim, config.kills_per_service))
        .collect();
    services.shuffle(&mut rng);
    let mut points: Vec<u64> = (0..services.len())
        .map(|_| (config.events as f64 * rng.random_range(0.05..0.85)) as u64)
        .collect();
    points.sort_unstable();
    services
        .into_iter()
        .zip(points)
        .map(|(service, after_acked)| PlannedKill { service, after_acked })
        .collect()
}

/// Runs the whole chaos run and returns its figures (the caller judges them: see [`Report::holds`]).
pub async fn run(config: &ChaosConfig) -> Result<Report, Error> {
    std::fs::create_dir_all(&config.data).map_err(|source| Error::Read {
        path: config.data.clone(),
        source,
    })?;
    let channels = alerts::Channels::start(&config.data).await?;
    let mut stack = NativeStack::new(&config.data, &config.profile)?;
    stack.set_env("MERCURY_SMTP_URL", channels.smtp_url());
    // Bronze commits every 10 s rather than every 5 minutes: the run measures when a restarted Neptune commits
    // again, and reconciles bronze once the fleet stops.
    stack.set_env("NEPTUNE_COMMIT_INTERVAL", "10s".to_owned());
    let started = Instant::now();
    println!("chaos: starting the native stack in {}", config.data.display());
    if let Err(error) = stack.up() {
        // A free port can be taken by another process before the service binds it: once more on fresh ports.
        if !error.to_string().contains("Address already in use") {
            return Err(error);
        }
        println!("chaos: a port was taken meanwhile; starting again on fresh ports");
        stack.down();
        stack.choose_ports();
        stack.up()?;
    }
    println!("chaos: stack up after {:.0?}", started.elapsed());
    channels.attach(&stack).await?;
    println!("chaos: webhook and email alerts attached, overspeed lowered");

    let events_log = config.data.join("acked.log");
    let mars = tokio::spawn(mars::run(
        mars_config(&stack, config, &events_log)?,
        std::future::pending(),
    ));
    let mars_metrics = format!("{}/metrics", stack.local_url("MARS_METRICS_PORT"));

    // Each killed service's recovery is watched on its own task: a slow one (a model run under load) must not
    // hold back the next kill until the fleet has finished.
    let mut kills = tokio::task::JoinSet::new();
    let mut planned = plan(config).into_iter().peekable();
    let mut last_report = Instant::now();
    while !mars.is_finished() {
        let acked = metric(&mars_metrics, "mars_events_acked_total")
            .await
            .unwrap_or(0.0) as u64;
        if planned.peek().is_some_and(|next| acked >= next.after_acked)
            && let Some(next) = planned.next()
        {
            let restarted = kill_and_restart(&stack, next.service).await?;
            let probe = Probe::new(&stack, next.service, &mars_metrics).await;
            let timeout = config.recover_timeout;
            kills.spawn(async move {
                let recovered_after = probe
                    .recovered(timeout)
                    .await
                    .map(|()| restarted.killed_at.elapsed());
                let kill = restarted.into_kill(recovered_after);
                println!("chaos: {kill}");
                kill
            });
        } else {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        if last_report.elapsed() > Duration::from_secs(15) {
            println!("chaos: {acked} events acknowledged, {} kills so far", kills.len());
            last_report = Instant::now();
        }
    }
    let mut kills: Vec<Kill> = kills.join_all().await.into_iter().collect();
    kills.sort_by_key(|kill| kill.killed_at_ms);
    let summary = mars
        .await
        .map_err(|error| Error::Chaos(format!("Mars panicked: {error}")))?
        .map_err(|error| Error::Chaos(format!("Mars failed: {error}")))?;
    let not_done: Vec<&str> = planned.map(|kill| kill.service).collect();
    if !not_done.is_empty() {
        return Err(Error::Chaos(format!(
            "the fleet completed before these kills were due: {not_done:?} (more events, or fewer kills)"
        )));
    }
    println!(
        "chaos: Mars done after {:.0?}; waiting for the layers to catch up",
        started.elapsed()
    );
    let acked = read_events_log(&events_log)?;
    let layers = reconcile::settle(&stack, &acked, config.settle_timeout).await?;
    let alerts = channels.reconcile(&stack, config.settle_timeout).await?;
    let latency = reconcile::ack_latency_outside(&acked, &kills);
    Ok(Report {
        mars: summary,
        layers,
        alerts,
        kills,
        ack_outside_kills: latency,
        elapsed: started.elapsed(),
    })
}

/// Mars as the native run starts it, sized to the run: until every session completes, fast-forwarded.
fn mars_config(stack: &NativeStack, config: &ChaosConfig, events_log: &Path) -> Result<mars::Config, Error> {
    let mut mars = stack.mars_config()?;
    mars.mode = mars::Mode::UntilComplete;
    mars.vehicles = config.vehicles;
    mars.sessions_per_vehicle = config.sessions_per_vehicle();
    mars.interval = config.interval;
    mars.step = Some(STEP);
    mars.start_spread = STEP * 4;
    mars.seed = config.seed;
    mars.events_log = Some(events_log.to_owned());
    mars.progress_interval = Duration::from_secs(30);
    Ok(mars)
}

/// A service killed and restarted, its recovery still to be seen.
struct Restarted {
    service: &'static str,
    pid: u32,
    killed_at: Instant,
    killed_at_ms: u64,
    restarted_after: Duration,
}

impl Restarted {
    fn into_kill(self, recovered_after: Option<Duration>) -> Kill {
        Kill {
            service: self.service,
            pid: self.pid,
            killed_at_ms: self.killed_at_ms,
            restarted_after: self.restarted_after,
            recovered_after,
        }
    }
}

/// SIGKILLs `service` and restarts it with up.sh (which waits for its health check).
async fn kill_and_restart(stack: &NativeStack, service: &'static str) -> Result<Restarted, Error> {
    let pid = stack
        .pid(service)
        .ok_or_else(|| Error::Chaos(format!("no PID recorded for {service}")))?;
    let killed_at = Instant::now();
    let killed_at_ms = epoch_ms();
    let status = tokio::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .await
        .map_err(|error| Error::Chaos(format!("kill: {error}")))?;
    if !status.success() {
        return Err(Error::Chaos(format!("kill -9 {pid} ({service}) failed")));
    }
    // SIGKILL is delivered asynchronously: until the process is gone it still holds its port and files (the
    // broker's SQLite database), and a restart at once would fail on them.
    let gone = packetpulse_testkit::wait_until(
        &format!("{service} (pid {pid}) to die"),
        Duration::from_secs(10),
        || async move { Ok::<_, String>((!process_running(pid)).then_some(())) },
    )
    .await;
    gone.map_err(|error| Error::Chaos(error.to_string()))?;
    // up.sh starts what does not run (the killed service) and waits until it answers its health check.
    let up = tokio::task::spawn_blocking({
        let env = stack.env().clone();
        move || crate::native::run_script("up.sh", &env)
    })
    .await
    .map_err(|error| Error::Chaos(error.to_string()))?;
    if !up.status.success() {
        return Err(Error::Chaos(format!(
            "up.sh could not restart {service}:\n{}",
            String::from_utf8_lossy(&up.stderr)
        )));
    }
    Ok(Restarted {
        service,
        pid,
        killed_at,
        killed_at_ms,
        restarted_after: killed_at.elapsed(),
    })
}

/// How to tell that a restarted service does its job again: Mars' events are acknowledged again (Venus, the
/// broker), the new process committed or inserted rows or ran the models (Neptune, Jupiter, Uranus), the login
/// page answers (Mercury).
enum Probe {
    /// Mars' acknowledgements grow past `before` (read at the restart).
    Acknowledged { mars_metrics: String, before: f64 },
    /// The new process's counter `name` at `url` is above zero.
    Counter { url: String, name: &'static str },
    /// `url` answers with success.
    Page { url: String },
}

impl Probe {
    async fn new(stack: &NativeStack, service: &str, mars_metrics: &str) -> Self {
        let counter = |port: &str, name| Probe::Counter {
            url: format!("{}/metrics", stack.local_url(port)),
            name,
        };
        match service {
            "venus" | "kafka" => Probe::Acknowledged {
                mars_metrics: mars_metrics.to_owned(),
                before: metric(mars_metrics, "mars_events_acked_total")
                    .await
                    .unwrap_or(0.0),
            },
            "neptune" => counter("NEPTUNE_METRICS_PORT", "neptune_rows_committed_total"),
            "jupiter" => counter("JUPITER_METRICS_PORT", "jupiter_rows_inserted_total"),
            "uranus" => counter("URANUS_METRICS_PORT", "uranus_runs_total"),
            _ => Probe::Page {
                url: format!("{}/login", stack.local_url("MERCURY_PORT")),
            },
        }
    }

    /// Waits until the service does its job again; `None` when `timeout` passes first.
    async fn recovered(self, timeout: Duration) -> Option<()> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            let done = match &self {
                Probe::Acknowledged { mars_metrics, before } => {
                    metric(mars_metrics, "mars_events_acked_total")
                        .await
                        .unwrap_or(0.0)
                        > *before
                }
                Probe::Counter { url, name } => metric(url, name).await.is_some_and(|value| value > 0.0),
                Probe::Page { url } => http()
                    .get(url.as_str())
                    .send()
                    .await
                    .is_ok_and(|response| response.status().is_success()),
            };
            if done {
                return Some(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        None
    }
}

/// Whether process `pid` still holds what it had: it exists and is not a zombie, or it is one whose other threads
/// are still exiting. SIGKILL turns the thread-group leader (the `/proc/PID` state) into a zombie as soon as it
/// exits, while its other threads may still be tearing down and holding the shared file table, the listening
/// socket with it: a restart then found the broker's port taken (CI, 2026-12-03).
fn process_running(pid: u32) -> bool {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return false;
    };
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .map(str::trim)
    };
    let zombie = field("State:").is_some_and(|state| state.starts_with('Z'));
    let threads: u32 = field("Threads:")
        .and_then(|count| count.parse().ok())
        .unwrap_or(1);
    !zombie || threads > 1
}

/// The HTTP client of every probe: a service that accepts a connection but never answers must not hang the run.
fn http() -> &'static reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default()
    })
}

/// The sum of a Prometheus metric's samples (all label sets) at `url`, if it answers and has the metric.
async fn metric(url: &str, name: &str) -> Option<f64> {
    let text = http().get(url).send().await.ok()?.text().await.ok()?;
    metric_sum(&text, name)
}

/// The sum of a metric's samples in Prometheus' text format.
fn metric_sum(text: &str, name: &str) -> Option<f64> {
    let samples: Vec<f64> = text
        .lines()
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse().ok())
        .collect();
    (!samples.is_empty()).then(|| samples.iter().sum())
}

fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64)
}

/// ClickHouse's answer to a counting query, for the reconciliation.
async fn count(stack: &NativeStack, sql: &str) -> Result<u64, Error> {
    clickhouse_number(&stack.clickhouse_url(), sql)
        .await
        .map_err(Error::Chaos)
}

/// The acknowledged events of Mars' log: event id → (acked_at_ms, frame latency µs) of its first acknowledgement.
fn read_events_log(path: &Path) -> Result<Acked, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })?;
    let mut events = BTreeMap::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let [event_id, _session, _seq, acked_at_ms, latency_us] = fields[..] else {
            return Err(Error::Chaos(format!(
                "{}: unexpected line {line:?}",
                path.display()
            )));
        };
        let number = |text: &str| {
            text.parse::<u64>()
                .map_err(|_| Error::Chaos(format!("{}: unexpected line {line:?}", path.display())))
        };
        let first = (number(acked_at_ms)?, number(latency_us)?);
        events.entry(event_id.to_owned()).or_insert(first);
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(kills_per_service: usize, seed: u64) -> ChaosConfig {
        ChaosConfig {
            events: 1_000_000,
            vehicles: 200,
            interval: Duration::from_millis(100),
            kills_per_service,
            seed,
            profile: "release".into(),
            data: PathBuf::from("/tmp/unused"),
            recover_timeout: Duration::from_secs(60),
            settle_timeout: Duration::from_secs(60),
        }
    }

    #[test]
    fn the_plan_kills_every_victim_as_often_as_asked_in_the_stream_and_is_seeded() {
        let plan = plan(&config(3, 7));
        assert_eq!(plan.len(), 18);
        for victim in VICTIMS {
            assert_eq!(plan.iter().filter(|kill| kill.service == victim).count(), 3);
        }
        assert!(
            plan.windows(2)
                .all(|pair| pair[0].after_acked <= pair[1].after_acked)
        );
        assert!(
            plan.iter()
                .all(|kill| (50_000..850_000).contains(&kill.after_acked))
        );
        assert_eq!(plan, super::plan(&config(3, 7)));
        assert_ne!(plan, super::plan(&config(3, 8)));
    }

    #[test]
    fn the_fleet_is_sized_to_the_events_asked_for() {
        let config = config(1, 1);
        let sessions = config.sessions_per_vehicle();
        assert_eq!(sessions, 79);
        assert!(sessions as u64 * 200 * EVENTS_PER_SESSION >= 1_000_000);
    }

    #[test]
    fn metrics_are_summed_over_their_label_sets() {
        let text = "# HELP x\nmars_events_acked_total 12\nuranus_runs_total{outcome=\"ok\"} 2\n\
                    uranus_runs_total{outcome=\"failed\"} 1\nuranus_runs_totally 9\n";
        assert_eq!(metric_sum(text, "uranus_runs_total"), Some(3.0));
        assert_eq!(metric_sum(text, "mars_events_acked_total"), Some(12.0));
        assert_eq!(metric_sum(text, "neptune_rows_committed_total"), None);
    }
}
