//! The testkit's errors: each says what failed and what to do about it.

use std::path::PathBuf;
use std::time::Duration;

/// Why a server could not be provided.
#[derive(thiserror::Error)]
pub enum Error {
    /// The server's program is not installed.
    #[error("{tool} is not installed (looked in: {looked}). Install it with: {hint}")]
    ToolMissing {
        /// The program's name.
        tool: &'static str,
        /// Where it was looked for.
        looked: String,
        /// The command that installs it.
        hint: &'static str,
    },
    /// The process could not be started at all.
    #[error("could not start {server} ({program}): {source}")]
    Spawn {
        /// Which server.
        server: &'static str,
        /// The program that failed to start.
        program: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The process exited before it became ready.
    #[error("{server} exited during start-up ({status}); last lines of {log}:\n{tail}")]
    ExitedEarly {
        /// Which server.
        server: &'static str,
        /// Its exit status.
        status: String,
        /// Its log file.
        log: PathBuf,
        /// The end of that log.
        tail: String,
    },
    /// The process runs but did not answer in time.
    #[error("{what} not ready after {timeout:?}: {last_problem}{log_tail}")]
    NotReady {
        /// What was waited for.
        what: String,
        /// How long.
        timeout: Duration,
        /// The last probe's failure.
        last_problem: String,
        /// The end of the server's log, when there is one.
        log_tail: String,
    },
    /// A file-system operation on a test directory failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The Kafka client reported an error.
    #[error("Kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// The ClickHouse client reported an error.
    #[error("ClickHouse: {0}")]
    ClickHouse(#[from] ::clickhouse::error::Error),
    /// The S3 client could not be built.
    #[error("S3 client: {0}")]
    ObjectStore(#[from] object_store::Error),
    /// The broker refused to create a topic.
    #[error("creating topic {topic} failed: {reason}")]
    TopicCreation {
        /// The topic.
        topic: String,
        /// The broker's answer.
        reason: String,
    },
    /// An operation the chosen backend cannot do.
    #[error("{0}")]
    Unsupported(String),
    /// A shared server failed to start earlier in this test binary.
    #[error("the shared {server} failed to start: {message}")]
    SharedUnavailable {
        /// Which server.
        server: &'static str,
        /// Why, as first reported.
        message: String,
    },
}

impl Error {
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let context = context.into();
        move |source| Self::Io { context, source }
    }
}

/// Debug shows the message: tests `expect()` these errors, and the reader needs the install hint, not the variant.
impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}
