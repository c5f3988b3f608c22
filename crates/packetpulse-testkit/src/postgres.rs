//! A PostgreSQL server (Debian's `postgresql` package): the database behind the Iceberg SQL catalog in compose.
//!
//! PostgreSQL refuses to run as root, so when the tests run as root the server runs as the `postgres` user
//! (created by the package) through `setpriv`, in a data directory handed over to that user.

#![allow(unsafe_code)] // getuid and chown: two libc calls, each commented where made.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::process::ServerProcess;
use crate::supervised::Supervised;
use crate::wait::free_port;
use crate::{Error, run_dir, tools};

const READY_TIMEOUT: Duration = Duration::from_secs(30);
const SYSTEM_DIRS: [&str; 3] = [
    "/usr/lib/postgresql/17/bin",
    "/usr/lib/postgresql/16/bin",
    "/usr/lib/postgresql/15/bin",
];

/// A PostgreSQL server on a free loopback port, user `packetpulse`, trust authentication, no fsync.
#[derive(Debug)]
pub struct Postgres {
    port: u16,
    server: Supervised,
    // Declared last: removed after the process stopped.
    _dir: tempfile::TempDir,
}

fn find(tool: &'static str) -> Result<PathBuf, Error> {
    let extra: Vec<String> = SYSTEM_DIRS.iter().map(|dir| format!("{dir}/{tool}")).collect();
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    tools::find(tool, &extra)
}

/// The `postgres` user's uid and gid when running as root (PostgreSQL's requirement), else `None`.
fn unprivileged_owner() -> Result<Option<(u32, u32)>, Error> {
    // SAFETY: getuid(2) has no preconditions and cannot fail.
    if unsafe { libc::getuid() } != 0 {
        return Ok(None);
    }
    let passwd = std::fs::read_to_string("/etc/passwd").map_err(Error::io("reading /etc/passwd"))?;
    passwd
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|fields| fields.first() == Some(&"postgres") && fields.len() > 3)
        .and_then(|fields| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))
        .map(Some)
        .ok_or_else(|| Error::Io {
            context: "running PostgreSQL as root needs the `postgres` user (apt-get install postgresql)"
                .to_owned(),
            source: std::io::Error::other("no postgres user"),
        })
}

fn chown(path: &Path, (uid, gid): (u32, u32)) -> Result<(), Error> {
    let c_path = CString::new(path.as_os_str().as_bytes()).map_err(|e| Error::Io {
        context: format!("path {}", path.display()),
        source: std::io::Error::other(e),
    })?;
    // SAFETY: chown(2) on a NUL-terminated path we own; it only reads the string.
    if unsafe { libc::chown(c_path.as_ptr(), uid, gid) } != 0 {
        return Err(Error::io(format!("chown {}", path.display()))(
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

/// `program args…` as the unprivileged owner when there is one.
fn as_owner(owner: Option<(u32, u32)>, program: &Path, args: Vec<String>) -> (PathBuf, Vec<String>) {
    match owner {
        None => (program.to_owned(), args),
        Some((uid, gid)) => {
            let mut wrapped = vec![
                format!("--reuid={uid}"),
                format!("--regid={gid}"),
                "--clear-groups".to_owned(),
                program.display().to_string(),
            ];
            wrapped.extend(args);
            (PathBuf::from("/usr/bin/setpriv"), wrapped)
        }
    }
}

impl Postgres {
    /// Initialises a cluster in a temp dir, starts it and waits until it accepts connections.
    pub fn start() -> Result<Self, Error> {
        let (initdb, postgres, pg_isready) = (find("initdb")?, find("postgres")?, find("pg_isready")?);
        let owner = unprivileged_owner()?;
        let dir = run_dir::server_dir("postgres")?;
        let data = dir.path().join("data");
        if let Some(owner) = owner {
            chown(dir.path(), owner)?;
        }
        let init_args = vec![
            "-D".to_owned(),
            data.display().to_string(),
            "-U".to_owned(),
            "packetpulse".to_owned(),
            "--auth=trust".to_owned(),
            "-E".to_owned(),
            "UTF8".to_owned(),
        ];
        let (program, args) = as_owner(owner, &initdb, init_args);
        let output = Command::new(&program)
            .args(&args)
            .current_dir(dir.path())
            .output()
            .map_err(Error::io(format!("running {}", initdb.display())))?;
        if !output.status.success() {
            return Err(Error::Io {
                context: format!("initdb failed: {}", String::from_utf8_lossy(&output.stderr)),
                source: std::io::Error::other("initdb"),
            });
        }
        let port = free_port()?;
        let server_args = vec![
            "-D".to_owned(),
            data.display().to_string(),
            "-p".to_owned(),
            port.to_string(),
            "-k".to_owned(),
            dir.path().display().to_string(),
            "-c".to_owned(),
            "listen_addresses=127.0.0.1".to_owned(),
            "-c".to_owned(),
            "fsync=off".to_owned(),
        ];
        let (program, args) = as_owner(owner, &postgres, server_args);
        let process = ServerProcess::start("postgres", &program, args, dir.path())?;
        let probe = move || {
            let status = Command::new(&pg_isready)
                .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string()])
                .status()
                .map_err(|e| e.to_string())?;
            if status.success() {
                Ok(())
            } else {
                Err(format!("pg_isready: {status}"))
            }
        };
        let server = Supervised::start(
            process,
            format!("PostgreSQL on 127.0.0.1:{port}"),
            READY_TIMEOUT,
            probe,
        )?;
        Ok(Self {
            port,
            server,
            _dir: dir,
        })
    }

    /// The URL of database `postgres` as user `packetpulse`.
    pub fn url(&self) -> String {
        format!("postgres://packetpulse@127.0.0.1:{}/postgres", self.port)
    }

    /// A new, empty database of its own (named `name_<n>`, unique in the process), as a URL: tests sharing one
    /// server stay apart.
    pub fn fresh_database(&self, name: &str) -> Result<String, Error> {
        let database = crate::unique_name(name).replace('-', "_");
        let createdb = find("createdb")?;
        let output = Command::new(&createdb)
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "packetpulse",
                &database,
            ])
            .output()
            .map_err(Error::io(format!("running {}", createdb.display())))?;
        if !output.status.success() {
            return Err(Error::Io {
                context: format!("createdb {database}: {}", String::from_utf8_lossy(&output.stderr)),
                source: std::io::Error::other("createdb"),
            });
        }
        Ok(format!(
            "postgres://packetpulse@127.0.0.1:{}/{database}",
            self.port
        ))
    }

    /// Stops the server.
    pub fn stop(&self) {
        self.server.stop();
    }
}
