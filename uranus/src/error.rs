//! Uranus' errors, worded so an analyst can fix the model: each names the file, line or model it is about.

use std::path::PathBuf;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A project file is missing or malformed.
    #[error("{}: {message}", path.display())]
    Project {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Jinja rendering failed (unknown ref or source, syntax error, missing var…).
    #[error("{}: {message}", location(model, path, *line))]
    Render {
        /// The model, empty for YAML files.
        model: String,
        /// Its file.
        path: PathBuf,
        /// Line in the file (0 when unknown).
        line: usize,
        /// What failed.
        message: String,
    },
    /// Models refer to each other in a circle.
    #[error("dependency cycle: {}", .0.join(" → "))]
    Cycle(Vec<String>),
    /// A `--select` names no model.
    #[error("--select {0}")]
    Selector(String),
    /// A model's configuration is invalid.
    #[error("model {model} ({}): {message}", path.display())]
    Config {
        /// The model.
        model: String,
        /// Its file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// ClickHouse refused a statement of a model.
    #[error("model {model}: {what}: {source}")]
    ClickHouse {
        /// The model (or test).
        model: String,
        /// What was being done.
        what: String,
        /// The server's answer.
        source: clickhouse::error::Error,
    },
    /// Some models or tests failed (each was reported); the others ran.
    #[error("{failed} of {total} {what} failed")]
    Failed {
        /// How many failed.
        failed: usize,
        /// How many were attempted.
        total: usize,
        /// `models` or `tests`.
        what: &'static str,
    },
    /// Writing compiled SQL failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The listen address could not be bound.
    #[error(transparent)]
    Bind(#[from] packetpulse_ops::BindError),
    /// A secret is publicly known.
    #[error(transparent)]
    Secret(#[from] packetpulse_ops::secrets::SecretError),
}

impl Error {
    /// `Err(Failed)` when `failed` of `total` models or tests did not succeed (each was reported already).
    pub fn fail_if_any(failed: usize, total: usize, what: &'static str) -> Result<(), Self> {
        if failed == 0 {
            Ok(())
        } else {
            Err(Self::Failed { failed, total, what })
        }
    }
}

/// `model m (path:line)`, or `path:line` for files that are not models.
fn location(model: &str, path: &std::path::Path, line: usize) -> String {
    if model.is_empty() {
        format!("{}:{line}", path.display())
    } else {
        format!("model {model} ({}:{line})", path.display())
    }
}
