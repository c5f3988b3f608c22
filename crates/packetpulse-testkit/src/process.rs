//! Server processes: started with output to a log file, stopped by PID on drop, restartable on the same port and
//! data directory (for outage and crash tests).
//!
//! Every process is spawned from one long-lived thread and asks the kernel to SIGKILL it when that thread dies
//! (`PR_SET_PDEATHSIG`). The thread lives as long as the test binary, so servers shared through statics, which
//! are never dropped, still die with the binary, even when it is killed.
//!
//! A server that starts programs of its own (chromedriver starts a Chromium per session) runs in a process group
//! of its own ([`ServerProcess::start_group`]): stopping it kills the whole group, and so does the test binary's
//! exit, because the parent-death signal reaches only the leader and its children would outlive it.
//!
//! Between fork and exec a child holds a copy of every descriptor of the test binary, close-on-exec or not, so
//! a socket closed in that window stays open. librdkafka's mock cluster closes a broker's listener and binds
//! its port again at once when the broker goes down, and aborts the process if that bind fails: it runs inside
//! [`outside_fork_window`], which no spawn overlaps.

#![allow(unsafe_code)] // prctl and kill: two libc calls, each commented where made.

use std::ffi::OsString;
use std::fs::OpenOptions;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::Error;

/// Held by the reaper thread while it spawns, that is while a child may be between fork and exec.
static FORK_WINDOW: Mutex<()> = Mutex::new(());

/// Runs `action` while no process is being spawned (see the module docs): a descriptor it closes is closed.
pub(crate) fn outside_fork_window<R>(action: impl FnOnce() -> R) -> R {
    let _no_spawn = FORK_WINDOW
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    action()
}

/// How long a server gets to exit after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// What to run: kept so the same server can be started again after a stop.
#[derive(Debug, Clone)]
struct Launch {
    program: PathBuf,
    args: Vec<OsString>,
    working_dir: PathBuf,
    log: PathBuf,
    /// Whether the process leads a process group of its own, killed as a whole on stop.
    own_group: bool,
}

/// A running (or stopped) server process.
#[derive(Debug)]
pub struct ServerProcess {
    name: &'static str,
    launch: Launch,
    child: Option<Child>,
}

impl ServerProcess {
    /// Starts `program args…` in `working_dir`, appending stdout and stderr to `{working_dir}/{name}.log`.
    pub fn start(
        name: &'static str,
        program: &Path,
        args: impl IntoIterator<Item = impl Into<OsString>>,
        working_dir: &Path,
    ) -> Result<Self, Error> {
        Self::launch(name, program, args, working_dir, false)
    }

    /// Like [`start`](Self::start), in a process group of its own: stopping or killing it also kills every
    /// process it started (and so does the test binary's exit, see the module docs).
    pub fn start_group(
        name: &'static str,
        program: &Path,
        args: impl IntoIterator<Item = impl Into<OsString>>,
        working_dir: &Path,
    ) -> Result<Self, Error> {
        Self::launch(name, program, args, working_dir, true)
    }

    fn launch(
        name: &'static str,
        program: &Path,
        args: impl IntoIterator<Item = impl Into<OsString>>,
        working_dir: &Path,
        own_group: bool,
    ) -> Result<Self, Error> {
        let launch = Launch {
            program: program.to_owned(),
            args: args.into_iter().map(Into::into).collect(),
            working_dir: working_dir.to_owned(),
            log: working_dir.join(format!("{name}.log")),
            own_group,
        };
        let mut process = Self {
            name,
            launch,
            child: None,
        };
        process.restart()?;
        Ok(process)
    }

    /// The server's name, e.g. `tansu`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The PID, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The log file with the server's output.
    pub fn log_path(&self) -> &Path {
        &self.launch.log
    }

    /// Starts the process again with the same command, directory and log (after [`stop`](Self::stop) or
    /// [`kill`](Self::kill)). A no-op if it runs.
    pub fn restart(&mut self) -> Result<(), Error> {
        if self.is_running() {
            return Ok(());
        }
        let launch = &self.launch;
        let open_log = || OpenOptions::new().create(true).append(true).open(&launch.log);
        let log = open_log().map_err(Error::io(format!("opening {}", launch.log.display())))?;
        let log_err = log
            .try_clone()
            .map_err(Error::io("duplicating the log file handle"))?;
        let mut command = Command::new(&launch.program);
        command
            .args(&launch.args)
            .current_dir(&launch.working_dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err);
        if launch.own_group {
            command.process_group(0);
        }
        let child = spawn_from_reaper_thread(command).map_err(|source| Error::Spawn {
            server: self.name,
            program: launch.program.clone(),
            source,
        })?;
        if launch.own_group {
            process_groups::register(child.id());
        }
        self.child = Some(child);
        Ok(())
    }

    /// Whether the process is alive.
    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// `Err` with the log's tail if the process has exited; for readiness loops.
    pub fn check_alive(&mut self) -> Result<(), Error> {
        let Some(child) = &mut self.child else {
            return Err(Error::Unsupported(format!("{} is stopped", self.name)));
        };
        match child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(Error::ExitedEarly {
                server: self.name,
                status: status.to_string(),
                log: self.launch.log.clone(),
                tail: self.log_tail(40),
            }),
            Err(e) => Err(Error::io(format!("waiting for {}", self.name))(e)),
        }
    }

    /// Graceful stop: SIGTERM, then SIGKILL if it has not exited after a grace period. Waits for the exit.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if self.launch.own_group {
            // Nothing in a group of this kind keeps state worth a graceful exit (a WebDriver and its browsers).
            process_groups::kill(child.id());
            let _ = child.wait();
            return;
        }
        if matches!(child.try_wait(), Ok(None)) {
            let pid = libc::pid_t::try_from(child.id()).expect("PIDs fit pid_t");
            // SAFETY: kill(2) with a PID we spawned and have not reaped yet, so it cannot name another process.
            unsafe { libc::kill(pid, libc::SIGTERM) };
            let deadline = Instant::now() + STOP_GRACE;
            while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Hang: SIGSTOP (`resume` is SIGCONT). The process keeps its sockets, so clients connect and then wait
    /// for an answer that does not come, as from a server stuck on a lock or a full disk.
    pub fn pause(&mut self, paused: bool) {
        if let Some(child) = &self.child {
            let pid = libc::pid_t::try_from(child.id()).expect("PIDs fit pid_t");
            let signal = if paused { libc::SIGSTOP } else { libc::SIGCONT };
            // SAFETY: kill(2) with a PID we spawned and have not reaped yet, so it cannot name another process.
            unsafe { libc::kill(pid, signal) };
        }
    }

    /// Crash: SIGKILL, no chance to flush. Waits for the exit.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            if self.launch.own_group {
                process_groups::kill(child.id());
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The last `lines` lines of the log.
    pub fn log_tail(&self, lines: usize) -> String {
        read_tail(&self.launch.log, lines).unwrap_or_else(|e| format!("(log unreadable: {e})"))
    }

    /// The last `lines` lines of the log headed by its path, as a failure report shows them.
    pub fn log_report(&self, lines: usize) -> String {
        format!(
            "\nlast lines of {}:\n{}",
            self.launch.log.display(),
            self.log_tail(lines)
        )
    }

    /// `error` with this server's log attached when it is a wait that timed out without one: when a condition
    /// that depends on this server never holds, its own account usually tells why.
    pub fn explain(&self, error: Error, lines: usize) -> Error {
        match error {
            Error::NotReady {
                what,
                timeout,
                last_problem,
                log_tail,
            } if log_tail.is_empty() => Error::NotReady {
                what,
                timeout,
                last_problem,
                log_tail: self.log_report(lines),
            },
            other => other,
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

fn read_tail(path: &Path, lines: usize) -> io::Result<String> {
    const MAX_BYTES: u64 = 64 * 1024;
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(MAX_BYTES)))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    Ok(all[all.len().saturating_sub(lines)..].join("\n"))
}

type SpawnRequest = (Command, mpsc::Sender<io::Result<Child>>);

/// Spawns `command` from the reaper thread (see the module docs).
fn spawn_from_reaper_thread(command: Command) -> io::Result<Child> {
    static REAPER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    let sender = REAPER.get_or_init(|| {
        let (sender, requests) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("testkit-reaper".into())
            .spawn(move || {
                // Lives until the process exits: the receiver's sender is in a static and never dropped.
                for (mut command, reply) in requests {
                    // `spawn` returns once the child has exec'd (or failed to): the fork window is closed.
                    let spawned = outside_fork_window(|| spawn_with_parent_death_signal(&mut command));
                    let _ = reply.send(spawned);
                }
            })
            .expect("spawning the testkit's reaper thread");
        Mutex::new(sender)
    });
    let (reply, response) = mpsc::channel();
    sender
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .send((command, reply))
        .map_err(|_| io::Error::other("the testkit's reaper thread is gone"))?;
    response
        .recv()
        .map_err(|_| io::Error::other("the testkit's reaper thread did not answer"))?
}

fn spawn_with_parent_death_signal(command: &mut Command) -> io::Result<Child> {
    // SAFETY: the closure runs between fork and exec and only calls prctl(2), which is async-signal-safe.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command.spawn()
}

/// Process groups led by servers started with [`ServerProcess::start_group`] and not yet killed, for the exit
/// handler.
mod process_groups {
    use std::sync::{Mutex, Once};

    static LIVE: Mutex<Vec<libc::pid_t>> = Mutex::new(Vec::new());

    /// Remembers the group led by `leader` (a child just spawned with its own group) until it is killed.
    pub(super) fn register(leader: u32) {
        static EXIT_HANDLER: Once = Once::new();
        // SAFETY: atexit(3) with a function that takes nothing and only calls kill(2); registered once.
        EXIT_HANDLER.call_once(|| unsafe {
            libc::atexit(kill_all_at_exit);
        });
        let group = libc::pid_t::try_from(leader).expect("PIDs fit pid_t");
        LIVE.lock().unwrap_or_else(|p| p.into_inner()).push(group);
    }

    /// SIGKILLs every process of the group led by `leader`, before the leader is reaped.
    pub(super) fn kill(leader: u32) {
        let group = libc::pid_t::try_from(leader).expect("PIDs fit pid_t");
        LIVE.lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|&g| g != group);
        // SAFETY: kill(2) on the group of a leader we spawned. Its ID stays reserved while any member lives; only
        // if the leader was reaped earlier (it exited on its own) and no member is left could the ID have gone to
        // a new group, which a test machine does not create in that moment.
        unsafe { libc::kill(-group, libc::SIGKILL) };
    }

    extern "C" fn kill_all_at_exit() {
        // try_lock: a thread that held the lock when exit began will never release it.
        if let Ok(groups) = LIVE.try_lock() {
            for &group in groups.iter() {
                // SAFETY: as in `kill` (the leaders of shared servers in statics are never reaped).
                unsafe { libc::kill(-group, libc::SIGKILL) };
            }
        }
    }
}
