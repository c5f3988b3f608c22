//! The native stack driven through `make up`'s own scripts (infrastructure/local/up.sh, down.sh) on free ports in a
//! private data dir, with binaries already built: what the end-to-end test and the chaos run start and stop.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{Error, native_env_with, repo_root};

/// The ports the scripts read; each run gets free ones so it never meets a `make up` of the same machine.
const PORTS: [&str; 10] = [
    "KAFKA_PORT",
    "CLICKHOUSE_HTTP_PORT",
    "CLICKHOUSE_TCP_PORT",
    "S3_PORT",
    "VENUS_PORT",
    "MERCURY_PORT",
    "MARS_METRICS_PORT",
    "NEPTUNE_METRICS_PORT",
    "JUPITER_METRICS_PORT",
    "URANUS_METRICS_PORT",
];

/// The planets, in the order up.sh starts them.
pub const PLANETS: [&str; 6] = ["mars", "venus", "neptune", "jupiter", "uranus", "mercury"];

/// The Cargo target dir: `$CARGO_TARGET_DIR`, else the repository's `target`.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| repo_root().join("target"), PathBuf::from)
}

/// One native stack: its data dir and the settings its scripts run with. Dropping it runs down.sh.
pub struct NativeStack {
    env: BTreeMap<String, String>,
    data: PathBuf,
}

impl NativeStack {
    /// A stack in `data` running the `profile` (`debug` or `release`) binaries of the target dir: free ports, no
    /// install, no build, no Mars (the caller runs its own). Nothing starts before [`NativeStack::up`].
    pub fn new(data: &Path, profile: &str) -> Result<Self, Error> {
        for planet in PLANETS {
            let binary = target_dir().join(profile).join(planet);
            if !binary.exists() {
                return Err(Error::Native(format!(
                    "{} is missing: build the planets first (cargo build --workspace{})",
                    binary.display(),
                    if profile == "release" { " --release" } else { "" }
                )));
            }
        }
        let env: BTreeMap<String, String> = [
            ("PACKETPULSE_DATA", data.display().to_string()),
            ("PACKETPULSE_SKIP_INSTALL", "1".to_owned()),
            ("PACKETPULSE_SKIP_BUILD", "1".to_owned()),
            ("PACKETPULSE_PROFILE", profile.to_owned()),
            ("PACKETPULSE_MARS", "0".to_owned()),
            ("CARGO_TARGET_DIR", target_dir().display().to_string()),
            ("READY_TIMEOUT", "180".to_owned()),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect();
        let mut stack = Self {
            env,
            data: data.to_owned(),
        };
        stack.choose_ports();
        Ok(stack)
    }

    /// Gives every service a free port of its own. The listeners are held until all ports are chosen, so no two
    /// services get the same one (a port the kernel hands out again after its listener closed).
    pub fn choose_ports(&mut self) {
        let listeners: Vec<TcpListener> = PORTS
            .iter()
            .filter_map(|_| TcpListener::bind("127.0.0.1:0").ok())
            .collect();
        for (setting, listener) in PORTS.iter().zip(&listeners) {
            let port = listener.local_addr().map_or(0, |address| address.port());
            self.env.insert((*setting).to_owned(), port.to_string());
        }
    }

    /// The scripts' settings (ports, data dir, profile).
    pub fn env(&self) -> &BTreeMap<String, String> {
        &self.env
    }

    /// The data dir.
    pub fn data(&self) -> &Path {
        &self.data
    }

    /// Runs up.sh: starts whatever does not run, waits until each answers. Returns its output (stdout + stderr).
    pub fn up(&self) -> Result<String, Error> {
        let output = self.script("up.sh");
        let log =
            String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
        if output.status.success() {
            Ok(log)
        } else {
            Err(Error::Native(format!("up.sh failed:\n{log}")))
        }
    }

    /// Runs down.sh; returns its output.
    pub fn down(&self) -> String {
        let output = self.script("down.sh");
        String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr)
    }

    /// The variables `planet` runs with in this stack (for a Mars, a pyiceberg reader, a `uranus test`).
    pub fn planet_env(&self, planet: &str) -> Result<BTreeMap<String, String>, Error> {
        native_env_with(planet, &self.data, &self.env)
    }

    /// The PID up.sh recorded for `service` (a planet, `kafka`, `clickhouse` or `s3`), if any.
    pub fn pid(&self, service: &str) -> Option<u32> {
        std::fs::read_to_string(self.data.join("pids").join(format!("{service}.pid")))
            .ok()
            .and_then(|text| text.trim().parse().ok())
    }

    /// Every PID up.sh recorded.
    pub fn recorded_pids(&self) -> Vec<String> {
        std::fs::read_dir(self.data.join("pids"))
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter_map(|entry| std::fs::read_to_string(entry.path()).ok())
                    .map(|pid| pid.trim().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// ClickHouse's HTTP address (`http://127.0.0.1:PORT/`).
    pub fn clickhouse_url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.env["CLICKHOUSE_HTTP_PORT"])
    }

    /// `http://127.0.0.1:PORT` of a setting holding a port (`MERCURY_PORT`, `MARS_METRICS_PORT`, …).
    pub fn local_url(&self, port_setting: &str) -> String {
        format!("http://127.0.0.1:{}", self.env[port_setting])
    }

    fn script(&self, name: &str) -> std::process::Output {
        run_script(name, &self.env)
    }
}

/// Runs infrastructure/local/`name` with `env` added to this process' environment.
pub fn run_script(name: &str, env: &BTreeMap<String, String>) -> std::process::Output {
    Command::new("bash")
        .arg(repo_root().join("infrastructure/local").join(name))
        .envs(env)
        .output()
        .expect("bash runs")
}

impl Drop for NativeStack {
    fn drop(&mut self) {
        println!("{}", self.down());
    }
}

/// The single number a ClickHouse query answers, over HTTP.
pub async fn clickhouse_number(url: &str, sql: &str) -> Result<u64, String> {
    let body = clickhouse_text(url, sql).await?;
    body.trim().parse().map_err(|_| format!("{sql}: {body}"))
}

/// The text a ClickHouse query answers, over HTTP.
pub async fn clickhouse_text(url: &str, sql: &str) -> Result<String, String> {
    let response = reqwest::Client::new()
        .post(url)
        .body(sql.to_owned())
        .send()
        .await
        .map_err(|error| format!("{sql}: {error}"))?;
    let status = response.status();
    let body = response.text().await.map_err(|error| format!("{sql}: {error}"))?;
    if status.is_success() {
        Ok(body)
    } else {
        Err(format!("{sql}: {status} {body}"))
    }
}
