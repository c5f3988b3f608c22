//! A server process together with the probe that tells when it is ready: the stop / kill / restart cycle every
//! server type shares, each step waiting (with a deadline) until the server answers again.

use std::fmt;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::Error;
use crate::process::ServerProcess;

/// Time between two readiness probes.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

type Probe = Box<dyn Fn() -> Result<(), String> + Send + Sync>;

pub(crate) struct Supervised {
    description: String,
    ready_timeout: Duration,
    probe: Probe,
    process: Mutex<ServerProcess>,
}

impl fmt::Debug for Supervised {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Supervised")
            .field("server", &self.description)
            .field("pid", &self.pid())
            .finish()
    }
}

impl Supervised {
    /// Wraps a just-started process and waits until `probe` succeeds.
    pub(crate) fn start(
        process: ServerProcess,
        description: String,
        ready_timeout: Duration,
        probe: impl Fn() -> Result<(), String> + Send + Sync + 'static,
    ) -> Result<Self, Error> {
        let server = Self {
            description,
            ready_timeout,
            probe: Box::new(probe),
            process: Mutex::new(process),
        };
        server.wait_ready()?;
        Ok(server)
    }

    fn process(&self) -> MutexGuard<'_, ServerProcess> {
        self.process
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Polls the probe until it succeeds; fails at once, with the log, if the process died, or after the timeout.
    fn wait_ready(&self) -> Result<(), Error> {
        let deadline = Instant::now() + self.ready_timeout;
        loop {
            self.process().check_alive()?;
            let problem = match (self.probe)() {
                Ok(()) => return Ok(()),
                Err(problem) => problem,
            };
            if Instant::now() >= deadline {
                let process = self.process();
                return Err(Error::NotReady {
                    what: self.description.clone(),
                    timeout: self.ready_timeout,
                    last_problem: problem,
                    log_tail: process.log_report(40),
                });
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    pub(crate) fn pid(&self) -> Option<u32> {
        self.process().pid()
    }

    /// Graceful stop (SIGTERM, then SIGKILL after a grace period).
    pub(crate) fn stop(&self) {
        self.process().stop();
    }

    /// Hang (SIGSTOP) or go on (SIGCONT).
    pub(crate) fn pause(&self, paused: bool) {
        self.process().pause(paused);
    }

    /// Crash (SIGKILL).
    pub(crate) fn kill(&self) {
        self.process().kill();
    }

    /// Starts the process again with the same command, ports and data, and waits until it is ready.
    pub(crate) fn restart(&self) -> Result<(), Error> {
        self.process().restart()?;
        self.wait_ready()
    }
}
