//! A real SMTP server for the email-alert tests: aiosmtpd (PyPI, the tools venv `aiosmtpd-venv`) on a free port,
//! writing every mail it accepts into a maildir, stopped by PID when dropped.

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::Error;
use crate::process::ServerProcess;
use crate::tools::venv_program;
use crate::wait::free_port;

/// How long aiosmtpd may take to listen.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running aiosmtpd.
#[derive(Debug)]
pub struct SmtpServer {
    process: ServerProcess,
    port: u16,
    maildir: PathBuf,
}

impl SmtpServer {
    /// Starts aiosmtpd with its log and maildir (`mail/`) in `dir`, and waits until it listens.
    pub fn start(dir: &Path) -> Result<Self, Error> {
        let python = venv_program("aiosmtpd-venv", "python")?;
        let port = free_port()?;
        let maildir = dir.join("mail");
        let args = [
            "-m".to_owned(),
            "aiosmtpd".to_owned(),
            "-n".to_owned(),
            "-l".to_owned(),
            format!("127.0.0.1:{port}"),
            "-c".to_owned(),
            "aiosmtpd.handlers.Mailbox".to_owned(),
            maildir.display().to_string(),
        ];
        let mut process = ServerProcess::start("aiosmtpd", &python, args, dir)?;
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + START_TIMEOUT;
        while let Err(error) = TcpStream::connect_timeout(&address, Duration::from_secs(1)) {
            process.check_alive()?;
            if Instant::now() >= deadline {
                return Err(Error::NotReady {
                    what: "aiosmtpd listening".into(),
                    timeout: START_TIMEOUT,
                    last_problem: error.to_string(),
                    log_tail: process.log_report(20),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Self {
            process,
            port,
            maildir,
        })
    }

    /// Its address as lettre (and `MERCURY_SMTP_URL`) reads it: `smtp://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The Message-ID of every mail received so far, with how many mails carried it.
    pub fn message_ids(&self) -> BTreeMap<String, u32> {
        let mut ids = BTreeMap::new();
        let Ok(files) = std::fs::read_dir(self.maildir.join("new")) else {
            return ids;
        };
        for file in files.filter_map(Result::ok) {
            let Ok(text) = std::fs::read_to_string(file.path()) else {
                continue;
            };
            let id = text
                .lines()
                .take_while(|line| !line.is_empty())
                .find_map(|line| line.strip_prefix("Message-ID: "))
                .unwrap_or_default()
                .trim()
                .to_owned();
            *ids.entry(id).or_default() += 1;
        }
        ids
    }

    /// Stops it (also when dropped).
    pub fn stop(&mut self) {
        self.process.stop();
    }
}
