//! ClickHouse: Debian's `clickhouse-server` 18.16 (or any newer one on PATH) with the config checked into
//! `infrastructure/clickhouse/local/`; or the ClickHouse 26 engine (chdb, in-process in Python) behind
//! `scripts/chdb_http.py`, the part of ClickHouse's HTTP interface that the `clickhouse` crate and dbt use.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::process::ServerProcess;
use crate::supervised::Supervised;
use crate::wait::{free_port, http_status};
use crate::{Error, run_dir, tools, unique_name};

const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// A ClickHouse server on free ports.
#[derive(Debug)]
pub struct ClickHouse {
    http_port: u16,
    tcp_port: u16,
    engine: Engine,
    server: Supervised,
    // Declared last: removed after the process stopped.
    _dir: tempfile::TempDir,
}

/// What answers on the HTTP port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// A `clickhouse-server` process (Debian's 18.16 here).
    Server,
    /// The ClickHouse 26 engine in-process (chdb) behind `scripts/chdb_http.py`: no native port.
    Chdb,
}

impl ClickHouse {
    /// Starts a server and waits until it answers `/ping`.
    pub fn start() -> Result<Self, Error> {
        let program = tools::find(
            "clickhouse-server",
            &["/usr/sbin/clickhouse-server", "/usr/bin/clickhouse-server"],
        )?;
        let config = config_file()?;
        let dir = run_dir::server_dir("clickhouse")?;
        let (http_port, tcp_port) = (free_port()?, free_port()?);
        let path = dir.path().display();
        let args = [
            format!("--config-file={}", config.display()),
            "--".into(),
            format!("--path={path}/"),
            format!("--tmp_path={path}/tmp/"),
            format!("--user_files_path={path}/user_files/"),
            format!("--format_schema_path={path}/format_schemas/"),
            format!("--http_port={http_port}"),
            format!("--tcp_port={tcp_port}"),
        ];
        let process = ServerProcess::start("clickhouse", &program, args, dir.path())?;
        Self::supervise(process, Engine::Server, http_port, tcp_port, dir)
    }

    /// Starts the ClickHouse 26 engine (chdb, from the install script's `chdb-venv`) behind its HTTP front and
    /// waits until it answers `/ping`.
    pub fn start_modern() -> Result<Self, Error> {
        let python = tools::venv_program("chdb-venv", "python")?;
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/chdb_http.py");
        let dir = run_dir::server_dir("chdb")?;
        let http_port = free_port()?;
        let args = [
            script.into_os_string(),
            "--port".into(),
            http_port.to_string().into(),
            "--path".into(),
            dir.path().join("data").into_os_string(),
        ];
        let process = ServerProcess::start("chdb", &python, args, dir.path())?;
        Self::supervise(process, Engine::Chdb, http_port, 0, dir)
    }

    fn supervise(
        process: ServerProcess,
        engine: Engine,
        http_port: u16,
        tcp_port: u16,
        dir: tempfile::TempDir,
    ) -> Result<Self, Error> {
        let addr = SocketAddr::from(([127, 0, 0, 1], http_port));
        let server = Supervised::start(
            process,
            format!("ClickHouse ({engine:?}) on {addr}"),
            READY_TIMEOUT,
            move || match http_status(addr, "/ping")? {
                200 => Ok(()),
                code => Err(format!("/ping answered {code}")),
            },
        )?;
        Ok(Self {
            http_port,
            tcp_port,
            engine,
            server,
            _dir: dir,
        })
    }

    /// Which engine this is.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// The HTTP URL, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// The native-protocol port (for `clickhouse-client --port`); none for chdb.
    pub fn tcp_port(&self) -> Option<u16> {
        (self.engine == Engine::Server).then_some(self.tcp_port)
    }

    /// A client for the `default` database. Validation is off: 18.16 cannot describe result types the way the
    /// crate's validation expects (see docs/ARCHITECTURE.md).
    pub fn client(&self) -> clickhouse::Client {
        clickhouse::Client::default()
            .with_url(self.url())
            .with_validation(false)
    }

    /// Creates a database no other test uses and returns its name and a client bound to it.
    pub async fn fresh_database(&self) -> Result<(String, clickhouse::Client), Error> {
        let name = unique_name("test");
        self.client()
            .query(&format!("CREATE DATABASE {name}"))
            .execute()
            .await?;
        Ok((name.clone(), self.client().with_database(name)))
    }

    /// Stops the server (SIGTERM, then SIGKILL after a grace period); for outage tests.
    pub fn stop(&self) {
        self.server.stop();
    }

    /// Hangs the server (SIGSTOP): connections are accepted by the kernel and never answered. [`ClickHouse::thaw`]
    /// lets it go on.
    pub fn freeze(&self) {
        self.server.pause(true);
    }

    /// Ends [`ClickHouse::freeze`] (SIGCONT).
    pub fn thaw(&self) {
        self.server.pause(false);
    }

    /// Starts it again on the same ports and data, and waits until it is ready.
    pub fn restart(&self) -> Result<(), Error> {
        self.server.restart()
    }
}

/// `infrastructure/clickhouse/local/config.xml` of this repository, found from this crate's location.
fn config_file() -> Result<PathBuf, Error> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../infrastructure/clickhouse/local/config.xml");
    path.canonicalize()
        .map_err(Error::io(format!("ClickHouse config {}", path.display())))
}
