//! Real servers for PacketPulse's tests: a Kafka-protocol broker (tansu, or librdkafka's in-process mock cluster),
//! ClickHouse, an S3 server (s3s-fs) and an SMTP server (aiosmtpd), each started on free ports in its own temp dir
//! and stopped by PID when dropped.
//!
//! ```no_run
//! # async fn demo() -> Result<(), packetpulse_testkit::Error> {
//! let kafka = packetpulse_testkit::shared_kafka()?;           // one tansu per test binary
//! let topic = kafka.create_unique_topic("sessions", 3).await?;
//! let clickhouse = packetpulse_testkit::shared_clickhouse()?;
//! let (database, client) = clickhouse.fresh_database().await?;
//! # Ok(()) }
//! ```
//!
//! Shared servers live as long as the test binary; tests isolate themselves with unique topic, database and bucket
//! names. A test that stops or restarts a server starts its own. A missing tool is an error naming the install
//! command, so a test fails instead of silently passing.

mod browser;
mod clickhouse;
mod error;
mod kafka;
mod postgres;
mod process;
mod run_dir;
mod s3;
mod shared;
mod smtp;
mod supervised;
mod tools;
mod wait;

pub use browser::Chromedriver;
pub use clickhouse::{ClickHouse, Engine as ClickHouseEngine};
pub use error::Error;
pub use kafka::{Kafka, KafkaKind};
pub use postgres::Postgres;
pub use process::ServerProcess;
pub use run_dir::unique_name;
pub use s3::S3Server;
pub use shared::{
    modern_clickhouse_selected, shared_clickhouse, shared_kafka, shared_modern_clickhouse, shared_postgres,
    shared_s3,
};
pub use smtp::SmtpServer;
pub use tools::{tools_dir, venv_program};
pub use wait::{free_port, wait_until};
