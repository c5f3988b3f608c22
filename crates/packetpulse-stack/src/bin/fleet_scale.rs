//! Headroom at fleet scale (crate README): `cargo run --release -p packetpulse-stack --bin fleet_scale -- --help`.
//!
//! For each fleet size it starts a fresh native stack through `make up`'s scripts, drives a Mars fleet in real time
//! (an event per vehicle per `--interval`), and measures over the steady part of the run (after `--start-spread`,
//! when every vehicle drives):
//! - **Venus ack**: how long each frame waited for its reply, from Mars' log of acknowledged events;
//! - **ping → silver**: a sample of the events (about 100 a second, chosen by a hash of the event id) is looked
//!   for in `session_movements` every `--poll`; an event's latency is the poll that first found it minus its
//!   event time (stamped by Mars on this machine), so it is an upper bound, at most one poll late;
//! - **ping → browser**: Mercury's live WebSocket (`/api/v1/live`, what the map draws from), each position's
//!   arrival minus its event time;
//! - each process' CPU (share of one core) and resident memory, from `/proc`, every second;
//! - bronze's data files once silver caught up: per day partition the files Neptune committed, their median
//!   size, and the files a day that rate comes to.
//!
//! After the fleet stops it waits for silver to hold every acknowledged event and reports how long that took; the
//! two latencies keep being collected until then (a stack that trails the fleet delivers the measured events
//! late, and that lateness is the figure), the processes only while the fleet drives.

use std::collections::{BTreeMap, HashSet};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use packetpulse_lake::table_files::{self, DayFiles};
use packetpulse_stack::measure::{ProcessSampler, ProcessUsage, Quantiles};
use packetpulse_stack::native::{NativeStack, SocketLatencies, clickhouse_number, clickhouse_text};
use tokio_util::sync::CancellationToken;

/// Measures the native stack under fleets of several sizes.
#[derive(Debug, Parser)]
struct Args {
    /// Fleet sizes to run, one fresh stack each.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000,20000")]
    vehicles: Vec<usize>,
    /// Wall time between two events of a vehicle (1 Hz by default).
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    interval: Duration,
    /// How long the whole fleet drives, measured (after the start spread).
    #[arg(long, default_value = "120s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Vehicles start within this long of each other; not measured.
    #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
    start_spread: Duration,
    /// How often silver is asked for the sampled events.
    #[arg(long, default_value = "250ms", value_parser = humantime::parse_duration)]
    poll: Duration,
    /// How long silver may take to hold every acknowledged event once the fleet stopped.
    #[arg(long, default_value = "300s", value_parser = humantime::parse_duration)]
    settle_timeout: Duration,
    /// Build of the planets to run (`release` or `debug`; build them first).
    #[arg(long, default_value = "release")]
    profile: String,
    /// A setting for the stack, `KEY=VALUE` (repeatable), e.g. `NEPTUNE_COMMIT_INTERVAL=10s`: wins over
    /// infrastructure/planets.env.
    #[arg(long = "set", value_parser = parse_setting)]
    settings: Vec<(String, String)>,
}

fn parse_setting(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .ok_or_else(|| format!("{text:?} is not KEY=VALUE"))
}

/// The services whose CPU and memory are sampled (up.sh's names); Mars runs inside this process.
const SERVICES: [&str; 8] = [
    "kafka",
    "clickhouse",
    "s3",
    "venus",
    "neptune",
    "jupiter",
    "uranus",
    "mercury",
];

/// One fleet size's figures.
struct Figures {
    vehicles: usize,
    acked: usize,
    venus_ack: Option<Quantiles>,
    silver: Option<Quantiles>,
    browser: Option<Quantiles>,
    silver_caught_up: Option<Duration>,
    usage: BTreeMap<String, ProcessUsage>,
    bronze: Option<Bronze>,
}

/// Bronze's data files as the run left them.
struct Bronze {
    days: BTreeMap<Option<i32>, DayFiles>,
    /// From the fleet's first event to the reading.
    span: Duration,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let args = Args::parse();
    let mut all = Vec::new();
    for &vehicles in &args.vehicles {
        let temp = tempfile::Builder::new()
            .prefix("packetpulse-fleet-scale-")
            .tempdir()?;
        let mut stack = NativeStack::new(&temp.path().join("data"), &args.profile)?;
        for (key, value) in &args.settings {
            stack.set_env(key, value.clone());
        }
        stack.up()?;
        let figures = measure(&stack, &args, vehicles).await;
        stack.down();
        let figures = figures?;
        print_row(&figures);
        all.push(figures);
    }
    print_tables(&args, &all);
    Ok(ExitCode::SUCCESS)
}

/// Drives `vehicles` through `stack` and measures it.
async fn measure(stack: &NativeStack, args: &Args, vehicles: usize) -> anyhow::Result<Figures> {
    let fleet_started = Instant::now();
    let measured_from_ms = now_ms() + i64::try_from(args.start_spread.as_millis())?;
    let browser = follow_live_map(stack, measured_from_ms).await?;
    let database = stack.planet_env("jupiter")?["CLICKHOUSE_DATABASE"].clone();
    let movements = format!("{database}.session_movements");
    // About 100 sampled events a second at any fleet size.
    let events_per_second = (vehicles as f64 / args.interval.as_secs_f64()).max(1.0);
    let modulus = (events_per_second / 100.0).ceil().max(1.0) as u64;
    // Processes are measured while the fleet drives; the latencies until silver holds every event (a stack that
    // trails the fleet still delivers the measured events after it stopped).
    let fleet_driving = CancellationToken::new();
    let following = CancellationToken::new();
    let silver = tokio::spawn(poll_silver(
        stack.clickhouse_url(),
        movements.clone(),
        modulus,
        measured_from_ms,
        args.poll,
        following.clone(),
    ));
    let sampler = tokio::spawn(sample_processes(
        stack.data().to_owned(),
        args.start_spread,
        fleet_driving.clone(),
    ));

    let events_log = stack.data().join("acked.log");
    let mut mars = stack.mars_config()?;
    mars.mode = mars::Mode::Continuous;
    mars.vehicles = vehicles;
    mars.interval = args.interval;
    mars.start_spread = args.start_spread;
    mars.events_log = Some(events_log.clone());
    mars.progress_interval = Duration::from_secs(15);
    println!(
        "fleet_scale: {vehicles} vehicles every {:?}, {:?} to start, {:?} measured",
        args.interval, args.start_spread, args.duration
    );
    mars::run(mars, tokio::time::sleep(args.start_spread + args.duration)).await?;
    let fleet_stopped = Instant::now();
    fleet_driving.cancel();
    let usage = sampler.await?;

    let acked = acknowledged(&events_log, measured_from_ms)?;
    let silver_caught_up = wait_for_silver(stack, &movements, acked.total, args.settle_timeout)
        .await
        .then(|| fleet_stopped.elapsed());
    // The live feed trails silver by its own path; a moment more for the last positions.
    tokio::time::sleep(Duration::from_secs(2)).await;
    following.cancel();
    let silver = silver.await?;
    let browser = browser.finish();
    let bronze = read_bronze(stack, fleet_started.elapsed()).await;
    Ok(Figures {
        vehicles,
        acked: acked.total,
        venus_ack: Quantiles::of(acked.latencies_ms),
        silver: Quantiles::of(silver),
        browser: Quantiles::of(browser),
        silver_caught_up,
        usage,
        bronze,
    })
}

/// Bronze's live data files per day (`None` if the table cannot be read: the run goes on without them).
async fn read_bronze(stack: &NativeStack, span: Duration) -> Option<Bronze> {
    let read = async {
        let table = packetpulse_lake::catalog::load_table(&stack.lake_config()?).await?;
        let files = table_files::live_files(&table).await?;
        anyhow::Ok(table_files::per_day(&files))
    };
    match read.await {
        Ok(days) => Some(Bronze { days, span }),
        Err(error) => {
            println!("fleet_scale: bronze not read: {error:#}");
            None
        }
    }
}

/// Mars' log of acknowledged events: how many distinct events, and the frame latency (ms) of those first
/// acknowledged at or after `from_ms`.
struct Acknowledged {
    total: usize,
    latencies_ms: Vec<i64>,
}

fn acknowledged(path: &std::path::Path, from_ms: i64) -> anyhow::Result<Acknowledged> {
    let text = std::fs::read_to_string(path)?;
    let mut seen = HashSet::new();
    let mut latencies_ms = Vec::new();
    for line in text.lines() {
        // event_id session_id seq acked_at_ms latency_us
        let fields: Vec<&str> = line.split(' ').collect();
        let (Some(event_id), Some(acked_at), Some(latency)) = (fields.first(), fields.get(3), fields.get(4))
        else {
            continue;
        };
        if !seen.insert(*event_id) {
            continue;
        }
        if acked_at.parse::<i64>().is_ok_and(|at| at >= from_ms)
            && let Ok(latency_us) = latency.parse::<i64>()
        {
            latencies_ms.push(latency_us / 1000);
        }
    }
    Ok(Acknowledged {
        total: seen.len(),
        latencies_ms,
    })
}

/// Until `stop`: asks silver every `poll` for the sampled events Jupiter ingested in the last 30 s (it stamps a
/// row as it builds the batch, so a row is inserted well within that), and records each new one's latency (the
/// poll's time minus its event time) once its event time is at or after `from_ms`. Selecting by ingestion rather
/// than event time keeps finding events when silver trails the fleet by more than the window.
async fn poll_silver(
    clickhouse: String,
    movements: String,
    modulus: u64,
    from_ms: i64,
    poll: Duration,
    stop: CancellationToken,
) -> Vec<i64> {
    let mut seen = HashSet::new();
    let mut latencies = Vec::new();
    let mut ticker = tokio::time::interval(poll);
    while !stop.is_cancelled() {
        ticker.tick().await;
        let ingested_since = now_ms() - 30_000;
        let sql = format!(
            "SELECT event_id, event_time_ms FROM {movements} \
             WHERE ingested_at_ms >= {ingested_since} AND event_time_ms >= {from_ms} \
             AND cityHash64(event_id) % {modulus} = 0 FORMAT TabSeparated"
        );
        let Ok(rows) = clickhouse_text(&clickhouse, &sql).await else {
            continue;
        };
        let found_at = now_ms();
        for row in rows.lines() {
            let Some((event_id, event_time)) = row.split_once('\t') else {
                continue;
            };
            let Ok(event_time) = event_time.parse::<i64>() else {
                continue;
            };
            if seen.insert(event_id.to_owned()) {
                latencies.push(found_at - event_time);
            }
        }
    }
    latencies
}

/// Samples every service and this process (Mars) each second until `stop`; what was sampled before the end of
/// the start spread is left out.
async fn sample_processes(
    data: std::path::PathBuf,
    warm_up: Duration,
    stop: CancellationToken,
) -> BTreeMap<String, ProcessUsage> {
    let mut sampler = ProcessSampler::default();
    let started = Instant::now();
    let mut warm = false;
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    while !stop.is_cancelled() {
        ticker.tick().await;
        if !warm && started.elapsed() >= warm_up {
            sampler.reset();
            warm = true;
        }
        for service in SERVICES {
            let pid = std::fs::read_to_string(data.join("pids").join(format!("{service}.pid")))
                .ok()
                .and_then(|text| text.trim().parse().ok());
            if let Some(pid) = pid {
                sampler.sample(service, pid);
            }
        }
        sampler.sample("mars (in-process)", std::process::id());
    }
    sampler.usage()
}

/// Waits until silver holds `acked` distinct events; false if `timeout` passed first.
async fn wait_for_silver(stack: &NativeStack, movements: &str, acked: usize, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    let sql = format!("SELECT uniqExact(event_id) FROM {movements}");
    loop {
        let held = clickhouse_number(&stack.clickhouse_url(), &sql)
            .await
            .unwrap_or(0);
        if held >= acked as u64 {
            return true;
        }
        if Instant::now() >= deadline {
            println!("fleet_scale: silver holds {held} of {acked} acknowledged events after {timeout:?}");
            return false;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The live map's positions as they arrive: each one's latency once its event time is at or after `from_ms`.
async fn follow_live_map(stack: &NativeStack, from_ms: i64) -> anyhow::Result<SocketLatencies> {
    let cookie = stack.mercury_admin_cookie().await?;
    let follower = stack
        .follow_socket(&cookie, "/live", move |message| {
            // The snapshot holds whatever is known; only the pushed changes are the map following the fleet.
            if message["type"] != "update" {
                return Vec::new();
            }
            message["positions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|position| position["event_time_ms"].as_i64())
                .filter(|&at| at >= from_ms)
                .collect()
        })
        .await?;
    Ok(follower)
}

fn print_row(figures: &Figures) {
    println!(
        "fleet_scale: {} vehicles: {} events acknowledged; Venus ack {}; ping → silver {}; ping → browser {}; \
         silver caught up {}",
        figures.vehicles,
        figures.acked,
        Quantiles::p50_p99(figures.venus_ack.as_ref()),
        Quantiles::p50_p99(figures.silver.as_ref()),
        Quantiles::p50_p99(figures.browser.as_ref()),
        caught_up(figures.silver_caught_up),
    );
}

fn caught_up(after: Option<Duration>) -> String {
    after.map_or_else(
        || "not within the timeout".to_owned(),
        |after| format!("{:.1} s after the fleet stopped", after.as_secs_f64()),
    )
}

fn print_tables(args: &Args, all: &[Figures]) {
    println!(
        "\n{:?} per vehicle, {:?} measured after a {:?} start, {} build, everything on this machine{}\n",
        args.interval,
        args.duration,
        args.start_spread,
        args.profile,
        args.settings
            .iter()
            .map(|(key, value)| format!(", {key}={value}"))
            .collect::<String>()
    );
    println!(
        "| vehicles | events acked | Venus ack p50 / p99 | ping → silver p50 / p99 | ping → browser p50 / p99 | silver caught up |"
    );
    println!("|---:|---:|---|---|---|---|");
    for figures in all {
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            figures.vehicles,
            figures.acked,
            Quantiles::p50_p99(figures.venus_ack.as_ref()),
            Quantiles::p50_p99(figures.silver.as_ref())
                + &figures
                    .silver
                    .as_ref()
                    .map_or_else(String::new, |q| format!(" ({})", q.count)),
            Quantiles::p50_p99(figures.browser.as_ref()),
            caught_up(figures.silver_caught_up),
        );
    }
    print_bronze(all);
    println!("\nCPU (% of one core) and resident memory (first → max MiB) over the measured part:\n");
    let names: Vec<String> = all
        .iter()
        .flat_map(|figures| figures.usage.keys().cloned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    print!("| process |");
    for figures in all {
        print!(" {} vehicles |", figures.vehicles);
    }
    println!();
    println!("|---|{}", "---|".repeat(all.len()));
    for name in names {
        print!("| {name} |");
        for figures in all {
            match figures.usage.get(&name) {
                Some(usage) => print!(
                    " {:.0} % · {:.0} → {:.0} MiB |",
                    usage.cpu_percent, usage.rss_first_mib, usage.rss_max_mib
                ),
                None => print!(" – |"),
            }
        }
        println!();
    }
}

fn print_bronze(all: &[Figures]) {
    println!(
        "\nBronze once silver caught up (committed files only; a day's files at that rate = files × 24 h / time \
         since the fleet's first event):\n"
    );
    println!("| vehicles | day | data files | rows | median file | files a day at that rate |");
    println!("|---:|---|---:|---:|---:|---:|");
    for figures in all {
        let Some(bronze) = &figures.bronze else {
            println!("| {} | (not read) | | | | |", figures.vehicles);
            continue;
        };
        if bronze.days.is_empty() {
            println!("| {} | (nothing committed yet) | 0 | 0 | | |", figures.vehicles);
        }
        for (day, files) in &bronze.days {
            let day = day.map_or_else(
                || "–".to_owned(),
                |day| {
                    chrono::DateTime::from_timestamp(i64::from(day) * 86_400, 0)
                        .map_or_else(|| day.to_string(), |at| at.format("%Y-%m-%d").to_string())
                },
            );
            println!(
                "| {} | {day} | {} | {} | {:.2} MB | {:.0} |",
                figures.vehicles,
                files.files,
                files.rows,
                files.median_bytes as f64 / 1e6,
                files.files as f64 * 86_400.0 / bronze.span.as_secs_f64()
            );
        }
    }
}
