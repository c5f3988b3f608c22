//! ClickHouse connection settings, flattened into the configuration of every planet that talks to ClickHouse
//! (Jupiter writes silver, Uranus builds gold, Mercury reads both), so they read the same environment variables.

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
    }
}
