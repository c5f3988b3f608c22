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

    /// Sets `key` for the scripts and the planets they start (a planet reads it where services.sh passes it on,
    /// e.g. `MERCURY_SMTP_URL`).
    pub fn set_env(&mut self, key: &str, value: String) {
        self.env.insert(key.to_owned(), value);
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

    /// The lake settings Neptune runs with in this stack, to read bronze.
    pub fn lake_config(&self) -> Result<packetpulse_lake::LakeConfig, Error> {
        #[derive(clap::Parser)]
        struct Lake {
            #[command(flatten)]
            lake: packetpulse_lake::LakeConfig,
        }
        let env = self.planet_env("neptune")?;
        let flags = [
            ("catalog-uri", "ICEBERG_CATALOG_URI"),
            ("catalog-name", "ICEBERG_CATALOG_NAME"),
            ("warehouse", "ICEBERG_WAREHOUSE"),
            ("namespace", "BRONZE_NAMESPACE"),
            ("table", "BRONZE_TABLE"),
            ("s3-endpoint", "S3_ENDPOINT"),
            ("s3-region", "S3_REGION"),
            ("s3-access-key-id", "S3_ACCESS_KEY_ID"),
            ("s3-secret-access-key", "S3_SECRET_ACCESS_KEY"),
        ]
        .into_iter()
        .filter_map(|(flag, key)| env.get(key).map(|value| format!("--{flag}={value}")));
        <Lake as clap::Parser>::try_parse_from(std::iter::once("lake".to_owned()).chain(flags))
            .map(|parsed| parsed.lake)
            .map_err(|error| Error::Native(format!("Neptune's lake settings: {error}")))
    }

    /// Mars' defaults pointed at this stack (Venus' address, the device key, the routes, the metrics port): the
    /// in-process fleet of the chaos run and the benchmarks, which then size and pace it.
    pub fn mars_config(&self) -> Result<mars::Config, Error> {
        let env = self.planet_env("mars")?;
        let mut mars = mars::Config::defaults();
        mars.venus_url = env["MARS_VENUS_URL"].clone();
        mars.api_key = env["MARS_API_KEY"].clone();
        mars.routes = Some(PathBuf::from(&env["MARS_ROUTES"]));
        mars.metrics_listen = env["MARS_METRICS_LISTEN"]
            .parse()
            .map_err(|error| Error::Native(format!("MARS_METRICS_LISTEN: {error}")))?;
        Ok(mars)
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

    /// Signs in to Mercury as its first admin (the password the first start generated) and returns the session
    /// cookie, `pp_session=…`, for API calls.
    pub async fn mercury_admin_cookie(&self) -> Result<String, Error> {
        let password = self.planet_env("mercury")?["MERCURY_ADMIN_PASSWORD"].clone();
        let login = reqwest::Client::new()
            .post(format!("{}/api/v1/login", self.local_url("MERCURY_PORT")))
            .json(&serde_json::json!({"login": "admin", "password": password}))
            .send()
            .await
            .map_err(|error| Error::Native(format!("signing in to Mercury: {error}")))?;
        login
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok()?.split(';').next())
            .find(|pair| pair.starts_with("pp_session="))
            .map(str::to_owned)
            .ok_or_else(|| {
                Error::Native(format!(
                    "Mercury's login answered {} without a session cookie",
                    login.status()
                ))
            })
    }

    /// Calls Mercury's JSON API (`path` under `/api/v1`) with the session `cookie` and returns the answer's
    /// JSON. A 503 (Mercury still reading a settings topic as it starts) is asked again for up to a minute; any
    /// other failure is an error with Mercury's message.
    pub async fn mercury_call(
        &self,
        cookie: &str,
        method: reqwest::Method,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value, Error> {
        let url = format!("{}/api/v1{path}", self.local_url("MERCURY_PORT"));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let response = reqwest::Client::new()
                .request(method.clone(), &url)
                .header(reqwest::header::COOKIE, cookie)
                .json(body)
                .send()
                .await
                .map_err(|error| Error::Native(format!("{method} {path}: {error}")))?;
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            if status.is_success() {
                return Ok(serde_json::from_str(&text).unwrap_or(serde_json::Value::Null));
            }
            if status != reqwest::StatusCode::SERVICE_UNAVAILABLE || std::time::Instant::now() >= deadline {
                return Err(Error::Native(format!(
                    "{method} {path}: Mercury answered {status}: {text}"
                )));
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }

    fn script(&self, name: &str) -> std::process::Output {
        run_script(name, &self.env)
    }
}

/// Latencies (ms) taken from a Mercury WebSocket as its messages arrive; see [`NativeStack::follow_socket`].
pub struct SocketLatencies {
    latencies: std::sync::Arc<std::sync::Mutex<Vec<i64>>>,
    reader: tokio::task::JoinHandle<()>,
}

impl SocketLatencies {
    /// Stops reading and returns what was measured.
    pub fn finish(self) -> Vec<i64> {
        self.reader.abort();
        std::mem::take(
            &mut *self
                .latencies
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}

impl NativeStack {
    /// Opens Mercury's WebSocket `path` (under `/api/v1`) as the signed-in browser with `cookie` does, and for
    /// each JSON message records its arrival minus each event time (epoch ms) `event_times` finds in it.
    pub async fn follow_socket(
        &self,
        cookie: &str,
        path: &str,
        event_times: impl Fn(&serde_json::Value) -> Vec<i64> + Send + 'static,
    ) -> Result<SocketLatencies, Error> {
        use futures::StreamExt;
        use tokio_tungstenite::tungstenite::Message;
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;

        let failed = |error: String| Error::Native(format!("opening {path}: {error}"));
        let url = format!(
            "{}/api/v1{path}",
            self.local_url("MERCURY_PORT").replacen("http", "ws", 1)
        );
        let mut request = url
            .into_client_request()
            .map_err(|error| failed(error.to_string()))?;
        request.headers_mut().insert(
            "cookie",
            cookie.parse().map_err(|_| failed("a bad cookie".to_owned()))?,
        );
        let (socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .map_err(|error| failed(error.to_string()))?;
        let latencies = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let collected = latencies.clone();
        let reader = tokio::spawn(async move {
            let (_, mut incoming) = socket.split();
            while let Some(Ok(message)) = incoming.next().await {
                let Message::Text(text) = message else { continue };
                let received = chrono::Utc::now().timestamp_millis();
                let Ok(message) = serde_json::from_str::<serde_json::Value>(&text) else {
                    continue;
                };
                let times = event_times(&message);
                collected
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .extend(times.into_iter().map(|at| received - at));
            }
        });
        Ok(SocketLatencies { latencies, reader })
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
