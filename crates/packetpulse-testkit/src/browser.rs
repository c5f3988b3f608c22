//! A headless browser for the dashboard's tests: Debian's `chromedriver` on a free port, driving Debian's
//! Chromium (headless, no sandbox: tests may run as root) with the flags a machine without internet needs.

use std::net::SocketAddr;
use std::time::Duration;

use crate::process::ServerProcess;
use crate::supervised::Supervised;
use crate::wait::{free_port, http_status};
use crate::{Error, run_dir, tools};

const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A running chromedriver.
#[derive(Debug)]
pub struct Chromedriver {
    port: u16,
    chromium: std::path::PathBuf,
    server: Supervised,
    // Declared last: removed after the process stopped (it holds the browser profiles).
    dir: tempfile::TempDir,
}

impl Chromedriver {
    /// Starts chromedriver and waits until it answers.
    pub fn start() -> Result<Self, Error> {
        let program = tools::find("chromedriver", &["/usr/bin/chromedriver"])?;
        let chromium = tools::find("chromium", &["/usr/bin/chromium"])?;
        let dir = run_dir::server_dir("chromedriver")?;
        let port = free_port()?;
        // In a group of its own: its browsers die with it, even those of a test that panicked before closing its
        // session.
        let process = ServerProcess::start_group(
            "chromedriver",
            &program,
            [format!("--port={port}"), "--allowed-ips=127.0.0.1".to_owned()],
            dir.path(),
        )?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let server = Supervised::start(
            process,
            format!("chromedriver on {addr}"),
            READY_TIMEOUT,
            move || http_status(addr, "/status").map(|_| ()),
        )?;
        Ok(Self {
            port,
            chromium,
            server,
            dir,
        })
    }

    /// The WebDriver URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// WebDriver capabilities for headless Chromium with a fresh profile under this driver's directory.
    pub fn capabilities(&self) -> serde_json::Map<String, serde_json::Value> {
        let profile = self
            .dir
            .path()
            .join(format!("profile-{}", crate::unique_name("chromium")));
        let capabilities = serde_json::json!({
            "browserName": "chrome",
            // A page that never finishes loading fails its test in a minute, naming the page, instead of after
            // chromedriver's default five.
            "timeouts": { "pageLoad": 60_000 },
            "goog:chromeOptions": {
                "binary": self.chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1280,900", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    format!("--user-data-dir={}", profile.display()),
                ]
            }
        });
        match capabilities {
            serde_json::Value::Object(map) => map,
            _ => serde_json::Map::new(),
        }
    }

    /// Stops chromedriver (also done on drop).
    pub fn stop(&self) {
        self.server.stop();
    }
}
