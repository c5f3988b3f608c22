//! The platform as a whole: where each run (docker-compose, the native `make up`) sets the planets' environment,
//! and which variables each planet reads, so tests can hold the three together; the native stack driven through
//! `make up`'s scripts ([`native`]) and the chaos run that kills its services while a fleet streams ([`chaos`]).

pub mod chaos;
pub mod measure;
pub mod native;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Reading a configuration source failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// docker-compose.yml is not valid YAML or not shaped like a compose file.
    #[error("docker-compose.yml: {0}")]
    Compose(String),
    /// The native run's scripts failed.
    #[error("infrastructure/local/services.sh: {0}")]
    Native(String),
    /// The chaos run could not go on.
    #[error("chaos run: {0}")]
    Chaos(String),
}

/// The secrets of a docker compose run: every one has no default (`${VAR:?…}` in docker-compose.yml) and `make
/// secrets` (infrastructure/local/secrets.sh) fills each in `.env`.
pub const COMPOSE_SECRETS: [&str; 13] = [
    "S3_ACCESS_KEY_ID",
    "S3_SECRET_ACCESS_KEY",
    "POSTGRES_PASSWORD",
    "CLICKHOUSE_PASSWORD",
    "VENUS_API_KEYS",
    "MARS_API_KEY",
    "MERCURY_JWT_SECRET",
    "MERCURY_ADMIN_PASSWORD",
    "MERCURY_DEVICE_SIGNING_KEY",
    "VENUS_DEVICE_TOKEN_KEY",
    "SQLPAD_ADMIN_PASSWORD",
    "SQLPAD_COOKIE_SECRET",
    "SQLPAD_PASSPHRASE",
];

/// The secrets of the native run, which `make up` generates into `$PACKETPULSE_DATA/secrets.env`.
pub const NATIVE_SECRETS: [&str; 8] = [
    "S3_ACCESS_KEY_ID",
    "S3_SECRET_ACCESS_KEY",
    "VENUS_API_KEYS",
    "MARS_API_KEY",
    "MERCURY_JWT_SECRET",
    "MERCURY_ADMIN_PASSWORD",
    "MERCURY_DEVICE_SIGNING_KEY",
    "VENUS_DEVICE_TOKEN_KEY",
];

/// Runs infrastructure/local/secrets.sh with `mode` (`native` or `compose`) into `file`.
pub fn generate_secrets(mode: &str, file: &Path) -> std::process::Output {
    Command::new("bash")
        .arg(repo_root().join("infrastructure/local/secrets.sh"))
        .arg(mode)
        .arg(file)
        .output()
        .expect("bash runs")
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The environment variables a planet's configuration reads (clap `env`), with whether each has a default
/// (optional settings without one are left unset by both runs).
pub fn env_vars(command: &clap::Command) -> BTreeMap<String, bool> {
    let mut vars = BTreeMap::new();
    collect(command, &mut vars);
    vars
}

fn collect(command: &clap::Command, vars: &mut BTreeMap<String, bool>) {
    for arg in command.get_arguments() {
        if let Some(name) = arg.get_env() {
            let has_default = !arg.get_default_values().is_empty();
            vars.insert(name.to_string_lossy().into_owned(), has_default);
        }
    }
    for sub in command.get_subcommands() {
        collect(sub, vars);
    }
}

/// The `KEY=value` lines of an env file (comments and blank lines skipped).
pub fn env_file(path: &Path) -> Result<BTreeMap<String, String>, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })?;
    Ok(parse_env_lines(&text))
}

fn parse_env_lines(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.trim().to_owned(), value.trim().to_owned()))
        .collect()
}

/// The variables docker-compose.yml gives `service`: its `env_file`s and its `environment`.
pub fn compose_env(service: &str) -> Result<BTreeMap<String, String>, Error> {
    let root = repo_root();
    let path = root.join("docker-compose.yml");
    let text = std::fs::read_to_string(&path).map_err(|source| Error::Read {
        path: path.clone(),
        source,
    })?;
    let compose: serde_json::Value =
        serde_saphyr::from_str(&text).map_err(|error| Error::Compose(error.to_string()))?;
    let definition = compose
        .get("services")
        .and_then(|services| services.get(service))
        .ok_or_else(|| Error::Compose(format!("no service {service}")))?;
    let mut vars = BTreeMap::new();
    let env_files = match definition.get("env_file") {
        Some(serde_json::Value::String(file)) => vec![file.clone()],
        Some(serde_json::Value::Array(files)) => files
            .iter()
            .filter_map(|f| f.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    for file in env_files {
        vars.extend(env_file(&root.join(file))?);
    }
    match definition.get("environment") {
        Some(serde_json::Value::Object(map)) => {
            for (key, value) in map {
                let value = match value {
                    serde_json::Value::String(text) => text.clone(),
                    other => other.to_string(),
                };
                vars.insert(key.clone(), value);
            }
        }
        Some(serde_json::Value::Array(lines)) => {
            vars.extend(parse_env_lines(
                &lines
                    .iter()
                    .filter_map(|l| l.as_str())
                    .collect::<Vec<_>>()
                    .join("\n"),
            ));
        }
        _ => {}
    }
    Ok(vars)
}

/// The variables the native run (`make up`) starts `planet` with: infrastructure/planets.env plus the
/// `planet_env` lines of services.sh, with `data_dir` as the data directory.
pub fn native_env(planet: &str, data_dir: &Path) -> Result<BTreeMap<String, String>, Error> {
    native_env_with(planet, data_dir, &BTreeMap::new())
}

/// Same, with `overrides` (ports and the like) in the scripts' environment.
pub fn native_env_with(
    planet: &str,
    data_dir: &Path,
    overrides: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, Error> {
    let root = repo_root();
    let mut vars = env_file(&root.join("infrastructure/planets.env"))?;
    // As in services.sh: a variable set for the run wins over its planets.env line.
    for (key, value) in overrides {
        if let Some(shared) = vars.get_mut(key) {
            shared.clone_from(value);
        }
    }
    let script = format!(
        "repo={root}; source {root}/infrastructure/local/env.sh; source {root}/infrastructure/local/services.sh; planet_env {planet}",
        root = root.display()
    );
    let output = Command::new("bash")
        .arg("-c")
        .arg(script)
        .env("PACKETPULSE_DATA", data_dir)
        .envs(overrides)
        .output()
        .map_err(|error| Error::Native(error.to_string()))?;
    if !output.status.success() {
        return Err(Error::Native(
            String::from_utf8_lossy(&output.stderr).into_owned(),
        ));
    }
    vars.extend(parse_env_lines(&String::from_utf8_lossy(&output.stdout)));
    Ok(vars)
}

/// The variables of `wanted` (name → has a default) missing from `set`: every one with a default must be set.
pub fn missing(wanted: &BTreeMap<String, bool>, set: &BTreeMap<String, String>) -> BTreeSet<String> {
    wanted
        .iter()
        .filter(|(name, has_default)| **has_default && !set.contains_key(*name))
        .map(|(name, _)| name.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_lines_skip_comments_and_keep_empty_values() {
        let vars = parse_env_lines("# c\nA=1\n\nB=\nC=x=y\n");
        assert_eq!(vars.get("A").map(String::as_str), Some("1"));
        assert_eq!(vars.get("B").map(String::as_str), Some(""));
        assert_eq!(vars.get("C").map(String::as_str), Some("x=y"));
    }
}
