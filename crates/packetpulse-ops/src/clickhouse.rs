//! ClickHouse connection settings, flattened into the configuration of every planet that talks to ClickHouse
//! (Jupiter writes silver, Uranus builds gold, Mercury reads both), so they read the same environment variables.

use std::time::Duration;

use clap::Args;

/// Where ClickHouse is and who to be there.
#[derive(Debug, Clone, Args)]
pub struct ClickHouseConfig {
    /// ClickHouse HTTP URL.
    #[arg(
        id = "clickhouse_url",
        long = "clickhouse-url",
        global = true,
        env = "CLICKHOUSE_URL",
        default_value = "http://127.0.0.1:8123"
    )]
    pub url: String,

    /// The database of the silver and gold tables (created by Jupiter if missing).
    #[arg(
        id = "clickhouse_database",
        long = "clickhouse-database",
        global = true,
        env = "CLICKHOUSE_DATABASE",
        default_value = packetpulse_model::clickhouse::DATABASE
    )]
    pub database: String,

    /// ClickHouse user.
    #[arg(
        id = "clickhouse_user",
        long = "clickhouse-user",
        global = true,
        env = "CLICKHOUSE_USER",
        default_value = "default"
    )]
    pub user: String,

    /// ClickHouse password (empty for the dev server).
    #[arg(
        id = "clickhouse_password",
        long = "clickhouse-password",
        global = true,
        env = "CLICKHOUSE_PASSWORD",
        default_value = "",
        hide_env_values = true
    )]
    pub password: String,

    /// Longest a statement may take: ClickHouse's `max_execution_time` for every statement, and how long a
    /// caller waits for an answer before it treats the server as hung.
    #[arg(
        id = "clickhouse_timeout",
        long = "clickhouse-timeout",
        global = true,
        env = "CLICKHOUSE_TIMEOUT",
        default_value = "120s",
        value_parser = humantime::parse_duration
    )]
    pub timeout: Duration,
}

impl ClickHouseConfig {
    /// The password may be empty (the native run's loopback-only user has none) but not a publicly known one,
    /// such as the compose file's former default.
    pub fn check_password(&self) -> Result<(), crate::secrets::SecretError> {
        if !self.password.is_empty() && crate::secrets::is_known(&self.password) {
            return Err(crate::secrets::SecretError::Known {
                setting: "CLICKHOUSE_PASSWORD",
            });
        }
        Ok(())
    }

    /// A client for this server (no default database: statements name theirs). Validation is off: ClickHouse
    /// 18.16 cannot describe result types the way the crate's validation expects (docs/ARCHITECTURE.md).
    pub fn client(&self) -> clickhouse::Client {
        clickhouse::Client::default()
            .with_url(&self.url)
            .with_user(&self.user)
            .with_password(&self.password)
            .with_validation(false)
            .with_setting("max_execution_time", self.timeout.as_secs().max(1).to_string())
    }
}

/// Server error codes that mean the data of an insert was refused (a value out of range, a failed check, a
/// function that throws on it): retrying the same rows cannot succeed. Codes about the server's state (down,
/// busy, memory, too many parts) or the schema (an unknown column: every row would fail, and an operator must
/// fix it) are not here: those are retried.
const DATA_REFUSED_CODES: [u32; 15] = [
    6,    // CANNOT_PARSE_TEXT
    26,   // CANNOT_PARSE_QUOTED_STRING
    27,   // CANNOT_PARSE_INPUT_ASSERTION_FAILED
    38,   // CANNOT_PARSE_DATE
    41,   // CANNOT_PARSE_DATETIME
    69,   // ARGUMENT_OUT_OF_BOUND
    70,   // CANNOT_CONVERT_TYPE
    72,   // CANNOT_PARSE_NUMBER
    117,  // INCORRECT_DATA
    131,  // TOO_LARGE_STRING_SIZE
    321,  // VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
    395,  // FUNCTION_THROW_IF_VALUE_IS_NON_ZERO
    469,  // VIOLATED_CONSTRAINT
    691,  // UNKNOWN_ELEMENT_OF_ENUM
    1001, // STD_EXCEPTION (a function failing on a value)
];

/// Whether ClickHouse refused an insert for the rows it carries — so splitting the batch isolates the rows to
/// dead-letter — rather than for a passing condition worth retrying.
pub fn refused_the_data(error: &clickhouse::error::Error) -> bool {
    use clickhouse::error::Error;
    match error {
        Error::BadResponse(message) => {
            // Modern servers cap the partitions one insert may touch (code 252, shared with "too many parts",
            // which is transient): only this message is about the rows.
            message.contains("Too many partitions for single INSERT block")
                || server_code(message).is_some_and(|code| DATA_REFUSED_CODES.contains(&code))
        }
        // The rows could not even be encoded.
        Error::Custom(_) | Error::SequenceMustHaveLength => true,
        _ => false,
    }
}

/// The server's error code (`Code: N`) of a failed statement, if the server answered with one.
pub fn error_code(error: &clickhouse::error::Error) -> Option<u32> {
    match error {
        clickhouse::error::Error::BadResponse(message) => server_code(message),
        _ => None,
    }
}

/// The `Code: N` of a server error message (`Code: 395, e.displayText() = …` on 18.16, `Code: 395. DB::…` later).
fn server_code(message: &str) -> Option<u32> {
    let after = &message[message.find("Code: ")? + "Code: ".len()..];
    let digits = after.find(|c: char| !c.is_ascii_digit()).unwrap_or(after.len());
    after[..digits].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clickhouse::error::Error;

    #[test]
    fn data_refusals_are_told_from_passing_trouble_on_both_server_generations() {
        let refused = |message: &str| refused_the_data(&Error::BadResponse(message.into()));
        assert!(refused(
            "Code: 395, e.displayText() = DB::Exception: poison row, e.what() = DB::Exception"
        ));
        assert!(refused(
            "Code: 252. DB::Exception: Too many partitions for single INSERT block (more than 100). (TOO_MANY_PARTS)"
        ));
        assert!(!refused(
            "Code: 252. DB::Exception: Too many parts (300). Merges are processing significantly slower than inserts"
        ));
        assert!(!refused(
            "Code: 241. DB::Exception: Memory limit (total) exceeded"
        ));
        assert!(!refused(
            "Code: 16. DB::Exception: No such column speed in table silver.session_movements"
        ));
        assert!(!refused("502 Bad Gateway"));
        assert!(!refused_the_data(&Error::TimedOut));
        assert!(refused_the_data(&Error::Custom("cannot encode".into())));
        assert_eq!(server_code("Code: 1001. x"), Some(1001));
        assert_eq!(server_code("Code: x"), None);
    }
}
