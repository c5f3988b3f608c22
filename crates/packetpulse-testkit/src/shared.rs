//! One server of each kind per test binary, started on first use and killed when the binary exits (see
//! [`crate::ServerProcess`]). Tests sharing them isolate themselves with unique names; a test that stops or
//! restarts a server must start its own instead.

use std::sync::OnceLock;

use crate::{ClickHouse, Error, Kafka, Postgres, S3Server};

fn shared<T>(
    cell: &'static OnceLock<Result<T, String>>,
    server: &'static str,
    start: impl FnOnce() -> Result<T, Error>,
) -> Result<&'static T, Error> {
    cell.get_or_init(|| start().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|message| Error::SharedUnavailable {
            server,
            message: message.clone(),
        })
}

/// The test binary's tansu broker.
pub fn shared_kafka() -> Result<&'static Kafka, Error> {
    static KAFKA: OnceLock<Result<Kafka, String>> = OnceLock::new();
    shared(&KAFKA, "tansu broker", Kafka::start_tansu)
}

/// Set to `modern` to run a test binary's shared ClickHouse on the ClickHouse 26 engine instead of 18.16.
pub const CLICKHOUSE_ENGINE_VARIABLE: &str = "PACKETPULSE_TEST_CLICKHOUSE";

/// Whether this run asked for the ClickHouse 26 engine (`PACKETPULSE_TEST_CLICKHOUSE=modern`).
pub fn modern_clickhouse_selected() -> bool {
    std::env::var(CLICKHOUSE_ENGINE_VARIABLE).is_ok_and(|engine| engine == "modern")
}

/// The test binary's ClickHouse: Debian's 18.16 server, or the ClickHouse 26 engine (chdb behind its HTTP front)
/// when `PACKETPULSE_TEST_CLICKHOUSE=modern`; the test command runs the warehouse tests once on each.
pub fn shared_clickhouse() -> Result<&'static ClickHouse, Error> {
    static CLICKHOUSE: OnceLock<Result<ClickHouse, String>> = OnceLock::new();
    if modern_clickhouse_selected() {
        return shared(&CLICKHOUSE, "ClickHouse 26 (chdb)", ClickHouse::start_modern);
    }
    shared(&CLICKHOUSE, "ClickHouse server", ClickHouse::start)
}

/// The test binary's ClickHouse 26 engine (chdb behind its HTTP front).
pub fn shared_modern_clickhouse() -> Result<&'static ClickHouse, Error> {
    static CLICKHOUSE: OnceLock<Result<ClickHouse, String>> = OnceLock::new();
    shared(&CLICKHOUSE, "ClickHouse 26 (chdb)", ClickHouse::start_modern)
}

/// The test binary's S3 server.
pub fn shared_s3() -> Result<&'static S3Server, Error> {
    static S3: OnceLock<Result<S3Server, String>> = OnceLock::new();
    shared(&S3, "S3 server", S3Server::start)
}

/// The test binary's PostgreSQL server.
pub fn shared_postgres() -> Result<&'static Postgres, Error> {
    static POSTGRES: OnceLock<Result<Postgres, String>> = OnceLock::new();
    shared(&POSTGRES, "PostgreSQL server", Postgres::start)
}
