//! Uranus, PacketPulse's gold layer: runs the dbt-compatible model project in `uranus/dbt` against ClickHouse,
//! from Rust, so the platform needs no Python and the gold models refresh continuously.
//!
//! [`project`] reads the dbt files, [`render`] renders models with minijinja (`ref`, `source`, `config`, `var`,
//! `env_var`, `is_incremental`, `this`), [`graph`] orders them, [`materialize`] builds views, tables (swapped in
//! atomically) and incremental models, [`runner`] runs a selection, isolating failures, and [`data_tests`] runs
//! the `schema.yml` tests.
//!
//! The models read Jupiter's silver tables (the `silver` source in `dbt/models/sources.yml`); their schema is
//! owned by Jupiter's migrations (`jupiter/migrations`), and Uranus creates none of them.

pub mod config;
pub mod data_tests;
mod error;
pub mod graph;
mod jinja;
pub mod lock;
pub mod materialize;
pub mod metrics;
pub mod project;
pub mod render;
pub mod runner;

use std::future::Future;
use std::path::PathBuf;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::{Command, Config};
pub use error::Error;
pub use metrics::Metrics;

use crate::project::Project;
use crate::render::Renderer;
use crate::runner::Runner;

/// Runs the configured command until it is done (`serve`: until `shutdown` completes).
pub async fn run(config: Config, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), Error> {
    config.clickhouse.check_password()?;
    let project = load_project(&config)?;
    match config.command.clone() {
        Command::Compile => {
            let written = compile(&project, &config.clickhouse.database)?;
            println!(
                "compiled {} models into {}",
                written.len(),
                project.root.join(&project.target_path).display()
            );
            Ok(())
        }
        Command::Run { select, full_refresh } => {
            let mut runner = Runner::new(config.clickhouse_client(), &config.clickhouse.database, project)?;
            let selected = runner.select(&select)?;
            let results = runner.run(&selected, full_refresh).await;
            runner::summarise(&results)
        }
        Command::Test { select } => {
            let runner = Runner::new(config.clickhouse_client(), &config.clickhouse.database, project)?;
            let models = if select.is_empty() {
                std::collections::BTreeSet::new()
            } else {
                runner.select(&select)?
            };
            let tests = data_tests::collect(runner.project(), &models);
            let outcomes =
                data_tests::run(&config.clickhouse_client(), &config.clickhouse.database, tests).await;
            data_tests::summarise(&outcomes)
        }
        Command::Serve => {
            let listener = packetpulse_ops::bind(config.metrics_listen, "URANUS_METRICS_LISTEN").await?;
            run_with(&config, project, &Metrics::new(), listener, shutdown).await
        }
    }
}

/// Loads the project of `config.project_dir`.
pub fn load_project(config: &Config) -> Result<Project, Error> {
    Project::load(&config.project_dir, &config.clickhouse.database)
}

/// Writes every model's rendered SQL to `<target-path>/compiled/<project>/<model path>`; returns the files.
pub fn compile(project: &Project, database: &str) -> Result<Vec<PathBuf>, Error> {
    let renderer = Renderer::new(project, database)?;
    let mut written = Vec::new();
    for model in project.models.values() {
        let rendered = renderer.render(model, false)?;
        let path = project
            .root
            .join(&project.target_path)
            .join("compiled")
            .join(&project.name)
            .join(&model.path);
        let io = |source| Error::Io {
            path: path.clone(),
            source,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        std::fs::write(&path, format!("{}\n", rendered.sql)).map_err(io)?;
        written.push(path);
    }
    Ok(written)
}

/// Runs every model each `refresh_interval` until `shutdown`, serving `/health` and `/metrics` on `listener` (the
/// entry point of tests, which read both). A failing round is logged and counted; the next round tries again.
pub async fn run_with(
    config: &Config,
    project: Project,
    metrics: &Metrics,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let operations = packetpulse_ops::Operations::serve(listener, metrics.registry().clone(), shutdown);
    let token: CancellationToken = operations.token().clone();
    let result = async {
        let mut runner = Runner::new(config.clickhouse_client(), &config.clickhouse.database, project)?;
        let everything = runner.select(&[])?;
        let mut ticks = tokio::time::interval(config.refresh_interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = token.cancelled() => break,
                _ = ticks.tick() => {
                    let results = runner.run(&everything, false).await;
                    metrics.record(&results);
                    if let Err(error) = runner::summarise(&results) {
                        tracing::warn!(%error, "refresh round incomplete; retrying next round");
                    }
                }
            }
        }
        Ok(())
    }
    .await;
    operations.finish().await;
    result
}
