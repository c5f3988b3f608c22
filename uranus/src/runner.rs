//! `uranus run`: renders every model, orders them by their `ref()`s and builds them one after another. A model
//! that fails (render error, bad config, SQL error from the server) is reported with its name; the models that
//! read it are skipped, and every independent model still runs.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use clickhouse::Client;

use crate::Error;
use crate::graph::Graph;
use crate::lock::RunLock;
use crate::materialize::{Builder, Materialization, ModelConfig};
use crate::project::Project;
use crate::render::{Rendered, Renderer};

/// What happened to one model.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Built; rows in the table (views: none counted).
    Built {
        /// How it was built.
        materialized: Materialization,
        /// Rows after the build (tables and incremental models).
        rows: Option<u64>,
        /// Old rows an incremental refresh copied into the new version (the cost of a merge besides the new rows).
        copied: Option<u64>,
    },
    /// Failed with this message.
    Failed(String),
    /// Not attempted: a model it reads failed or was skipped.
    Skipped {
        /// The model it reads that did not build.
        upstream: String,
    },
}

/// One model's result.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelResult {
    /// The model.
    pub model: String,
    /// What happened.
    pub outcome: Outcome,
    /// How long it took.
    pub duration: Duration,
}

/// A loaded project ready to run: rendered once to learn the graph.
pub struct Runner {
    client: Client,
    database: String,
    project: Project,
    renderer: Renderer,
    graph: Graph,
    /// Models whose first render already failed, with the error.
    broken: BTreeMap<String, String>,
    /// SQL of the views this process created, to re-create a view only when it changed.
    views: HashMap<String, String>,
}

impl Runner {
    /// Renders every model (with `is_incremental()` false, as dbt parses) and builds the graph. A cycle is an
    /// error; a model that does not render is remembered as failed.
    pub fn new(client: Client, database: &str, project: Project) -> Result<Self, Error> {
        let renderer = Renderer::new(&project, database)?;
        let mut refs = BTreeMap::new();
        let mut broken = BTreeMap::new();
        for (name, model) in &project.models {
            match renderer.render(model, false) {
                Ok(rendered) => {
                    refs.insert(name.clone(), rendered.refs);
                }
                Err(error) => {
                    broken.insert(name.clone(), error.to_string());
                    refs.insert(name.clone(), Vec::new());
                }
            }
        }
        let graph = Graph::new(&refs).map_err(|error| match error {
            Error::Cycle(models) => Error::Cycle(locate_cycle(&project, &models)),
            other => other,
        })?;
        Ok(Self {
            client,
            database: database.to_owned(),
            project,
            renderer,
            graph,
            broken,
            views: HashMap::new(),
        })
    }

    /// The graph of the project.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// The project.
    pub fn project(&self) -> &Project {
        &self.project
    }

    /// The models the selectors name (every model when there are none).
    pub fn select(&self, selectors: &[String]) -> Result<BTreeSet<String>, Error> {
        if selectors.is_empty() {
            return Ok(self.graph.order().iter().cloned().collect());
        }
        let mut selected = BTreeSet::new();
        for selector in selectors {
            selected.extend(self.graph.select(selector)?);
        }
        Ok(selected)
    }

    /// Builds the `selected` models in dependency order; `full_refresh` rebuilds incremental models. Waits
    /// first until no other run works on the database (`lock`).
    pub async fn run(&mut self, selected: &BTreeSet<String>, full_refresh: bool) -> Vec<ModelResult> {
        let lock = match RunLock::acquire(&self.client, &self.database).await {
            Ok(lock) => lock,
            Err(error) => {
                let message = error.to_string();
                let results: Vec<ModelResult> = self
                    .graph
                    .order()
                    .iter()
                    .filter(|model| selected.contains(*model))
                    .map(|model| ModelResult {
                        model: model.clone(),
                        outcome: Outcome::Failed(message.clone()),
                        duration: Duration::ZERO,
                    })
                    .collect();
                for (index, result) in results.iter().enumerate() {
                    log_result(index + 1, results.len(), result);
                }
                return results;
            }
        };
        let results = self.run_locked(selected, full_refresh).await;
        if let Err(error) = lock.release().await {
            tracing::warn!(%error, "the run lock stays until it goes stale");
        }
        results
    }

    async fn run_locked(&mut self, selected: &BTreeSet<String>, full_refresh: bool) -> Vec<ModelResult> {
        let mut results: Vec<ModelResult> = Vec::new();
        let mut not_built: BTreeSet<String> = BTreeSet::new();
        let order: Vec<String> = self.graph.order().to_vec();
        let total = selected.len();
        for (index, model) in order.iter().filter(|m| selected.contains(*m)).enumerate() {
            let started = Instant::now();
            let blocked = self
                .graph
                .upstream(model)
                .find(|up| not_built.contains(*up))
                .cloned();
            let outcome = match blocked {
                Some(upstream) => Outcome::Skipped { upstream },
                None => match self.build(model, full_refresh).await {
                    Ok(outcome) => outcome,
                    Err(error) => Outcome::Failed(error.to_string()),
                },
            };
            if !matches!(outcome, Outcome::Built { .. }) {
                not_built.insert(model.clone());
            }
            let result = ModelResult {
                model: model.clone(),
                outcome,
                duration: started.elapsed(),
            };
            log_result(index + 1, total, &result);
            results.push(result);
        }
        results
    }

    async fn build(&mut self, model: &str, full_refresh: bool) -> Result<Outcome, Error> {
        if let Some(error) = self.broken.get(model) {
            return Ok(Outcome::Failed(error.clone()));
        }
        let file = &self.project.models[model];
        let builder = Builder::new(&self.client, &self.database, model);
        let first = self.renderer.render(file, false)?;
        let config = ModelConfig::from_values(model, &file.path, &first.config)?;
        let incremental =
            config.materialized == Materialization::Incremental && !full_refresh && builder.exists().await?;
        let Rendered { sql: full_sql, .. } = first;
        let sql = if incremental {
            self.renderer.render(file, true)?.sql
        } else {
            full_sql.clone()
        };
        let (rows, copied) = match config.materialized {
            Materialization::View => {
                if self.views.get(model) != Some(&sql) {
                    builder.view(&sql).await?;
                    self.views.insert(model.to_owned(), sql);
                }
                (None, None)
            }
            Materialization::Incremental if incremental => {
                let copied = match builder.incremental(&sql, &config).await? {
                    Some(copied) => Some(copied),
                    // The model's definition changed since its table was built.
                    None => {
                        builder.table(&full_sql, &config).await?;
                        None
                    }
                };
                (Some(builder.rows().await?), copied)
            }
            Materialization::Table | Materialization::Incremental => {
                builder.table(&sql, &config).await?;
                (Some(builder.rows().await?), None)
            }
        };
        Ok(Outcome::Built {
            materialized: config.materialized,
            rows,
            copied,
        })
    }
}

/// The steps of a cycle `a → b → …`, each model after the first with the file and line of its `ref()` to the
/// previous one, so the message points at the calls to change.
fn locate_cycle(project: &Project, models: &[String]) -> Vec<String> {
    let mut steps = vec![models.first().cloned().unwrap_or_default()];
    for pair in models.windows(2) {
        let (read, reader) = (&pair[0], &pair[1]);
        let Some(file) = project.models.get(reader) else {
            steps.push(reader.clone());
            continue;
        };
        let line = file
            .source
            .lines()
            .position(|line| {
                line.contains(&format!("ref('{read}')")) || line.contains(&format!("ref(\"{read}\")"))
            })
            .map_or(0, |index| index + 1);
        steps.push(format!("{reader} ({}:{line})", file.path.display()));
    }
    steps
}

fn log_result(index: usize, total: usize, result: &ModelResult) {
    let seconds = result.duration.as_secs_f64();
    match &result.outcome {
        Outcome::Built {
            materialized,
            rows,
            copied,
        } => {
            let rows = rows.map(|n| format!("{n} rows, ")).unwrap_or_default()
                + &copied.map(|n| format!("{n} copied, ")).unwrap_or_default();
            println!(
                "{index} of {total} OK    {} ({materialized:?}) [{rows}{seconds:.2}s]",
                result.model
            );
        }
        Outcome::Failed(message) => {
            println!(
                "{index} of {total} ERROR {} [{seconds:.2}s]: {message}",
                result.model
            );
        }
        Outcome::Skipped { upstream } => {
            println!(
                "{index} of {total} SKIP  {}: {upstream} did not build",
                result.model
            );
        }
    }
}

/// `Err(Failed)` when any model did not build.
pub fn summarise(results: &[ModelResult]) -> Result<(), Error> {
    let failed = results
        .iter()
        .filter(|r| !matches!(r.outcome, Outcome::Built { .. }))
        .count();
    Error::fail_if_any(failed, results.len(), "models")
}
