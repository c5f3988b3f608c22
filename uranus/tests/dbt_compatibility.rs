//! The project stays a dbt project: dbt itself (dbt-core with the dbt-clickhouse adapter, from the install
//! script's venv) parses `uranus/dbt` with warnings as errors, and its manifest agrees with Uranus on the models,
//! their materializations, what each one reads, and how many tests each model has. And dbt compiles every model
//! to the SQL Uranus runs, before the first build and for an increment; dbt-clickhouse needs a modern server for
//! that, so it compiles against the ClickHouse 26 engine (chdb behind the testkit's HTTP front), where Uranus
//! builds the models too.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use uranus::materialize::{Materialization, ModelConfig};
use uranus::project::Project;
use uranus::render::Renderer;
use uranus::runner::Runner;

fn project_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("dbt")
}

/// Runs `dbt <command>` on the project, writing into `out`, with `env` (the profile reads `CLICKHOUSE_*`).
fn dbt(command: &[&str], out: &Path, env: &[(&str, String)]) {
    let dbt = packetpulse_testkit::venv_program("dbt-venv", "dbt").unwrap_or_else(|error| panic!("{error}"));
    let output = Command::new(dbt)
        .args(command)
        .arg("--no-partial-parse")
        .arg("--project-dir")
        .arg(project_dir())
        .arg("--profiles-dir")
        .arg(project_dir())
        .arg("--target-path")
        .arg(out.join("target"))
        .arg("--log-path")
        .arg(out.join("logs"))
        .env("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        .envs(env.iter().map(|(name, value)| (name, value)))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "dbt {command:?} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn dbt_parses_the_project_and_sees_the_same_models_dependencies_and_tests() {
    let project_dir = project_dir();
    let out = tempfile::tempdir().unwrap();
    dbt(
        &["--warn-error", "parse"],
        out.path(),
        &[("CLICKHOUSE_DATABASE", "packetpulse".into())],
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("target/manifest.json")).unwrap()).unwrap();

    // dbt's view: model → (materialized, models it reads); and tests per model.
    let mut dbt_models: BTreeMap<String, (String, BTreeSet<String>)> = BTreeMap::new();
    let mut dbt_tests: BTreeMap<String, usize> = BTreeMap::new();
    for node in manifest["nodes"].as_object().unwrap().values() {
        match node["resource_type"].as_str().unwrap() {
            "model" => {
                let reads = node["depends_on"]["nodes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(|id| id.as_str().unwrap().strip_prefix("model.packetpulse_gold."))
                    .map(str::to_owned)
                    .collect();
                let materialized = node["config"]["materialized"].as_str().unwrap().to_owned();
                dbt_models.insert(node["name"].as_str().unwrap().to_owned(), (materialized, reads));
            }
            "test" => {
                let model = node["attached_node"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("model.packetpulse_gold.");
                *dbt_tests.entry(model.to_owned()).or_default() += 1;
            }
            _ => {}
        }
    }

    // Uranus' view of the same project.
    let project = Project::load(&project_dir, "packetpulse").unwrap();
    let all = Default::default();
    let mut uranus_tests: BTreeMap<String, usize> = BTreeMap::new();
    for test in uranus::data_tests::collect(&project, &all) {
        *uranus_tests.entry(test.unwrap().model).or_default() += 1;
    }
    let renderer = Renderer::new(&project, "packetpulse").unwrap();
    let runner = Runner::new(clickhouse::Client::default(), "packetpulse", project.clone()).unwrap();
    let mut uranus_models = BTreeMap::new();
    for (name, model) in &project.models {
        let rendered = renderer.render(model, false).unwrap();
        let config = ModelConfig::from_values(name, &model.path, &rendered.config).unwrap();
        let materialized = format!("{:?}", config.materialized).to_lowercase();
        let reads: BTreeSet<String> = runner.graph().upstream(name).cloned().collect();
        uranus_models.insert(name.clone(), (materialized, reads));
    }
    assert_eq!(dbt_models, uranus_models);
    assert_eq!(dbt_tests, uranus_tests);
    println!(
        "dbt and uranus agree on {} models and {} tests",
        dbt_models.len(),
        dbt_tests.values().sum::<usize>()
    );
}

/// SQL with its whitespace collapsed: dbt keeps the blank lines of `{{ config() }}` calls, Uranus trims them.
fn normalized(sql: &str) -> String {
    sql.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .trim_end_matches(';')
        .trim_end()
        .to_owned()
}

/// dbt's compiled SQL of every model (`target/compiled/…`) against what Uranus renders; `built` says whether the
/// models exist already (then incremental models render their increment, as `is_incremental()` is true).
fn assert_same_sql(out: &Path, project: &Project, renderer: &Renderer, built: bool) -> usize {
    let compiled = out.join("target/compiled").join(&project.name);
    let mut differing = Vec::new();
    for (name, model) in &project.models {
        let first = renderer.render(model, false).unwrap();
        let config = ModelConfig::from_values(name, &model.path, &first.config).unwrap();
        let incremental = built && config.materialized == Materialization::Incremental;
        let ours = renderer.render(model, incremental).unwrap().sql;
        let theirs = std::fs::read_to_string(compiled.join(&model.path)).unwrap();
        if normalized(&ours) != normalized(&theirs) {
            differing.push(format!(
                "{name} (increment: {incremental}):\n  uranus: {ours}\n  dbt:    {theirs}"
            ));
        }
    }
    assert!(
        differing.is_empty(),
        "dbt and Uranus compile differently:\n{}",
        differing.join("\n")
    );
    project.models.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dbt_compiles_every_model_to_the_sql_uranus_runs() {
    let modern = packetpulse_testkit::shared_modern_clickhouse().unwrap();
    let (database, _) = modern.fresh_database().await.unwrap();
    let port = modern.url().rsplit(':').next().unwrap().to_owned();
    let env = [
        ("CLICKHOUSE_HTTP_PORT", port),
        ("CLICKHOUSE_DATABASE", database.clone()),
    ];
    let project = Project::load(&project_dir(), &database).unwrap();
    let renderer = Renderer::new(&project, &database).unwrap();

    // Before the first build: every model compiles as a full build.
    let before = tempfile::tempdir().unwrap();
    dbt(&["compile"], before.path(), &env);
    let models = assert_same_sql(before.path(), &project, &renderer, false);

    // Silver through Jupiter's own path, then Uranus builds gold on ClickHouse 26.
    let mut silver = jupiter::testing::SilverSeeder::new(&modern.client(), &database).await;
    let event = packetpulse_model::testing::event();
    silver
        .insert(
            vec![packetpulse_model::testing::published(event)],
            chrono::Utc::now(),
        )
        .await;
    let mut runner = Runner::new(modern.client(), &database, project.clone()).unwrap();
    let every_model = runner.select(&[]).unwrap();
    uranus::runner::summarise(&runner.run(&every_model, false).await).unwrap();

    // Built: incremental models compile their increment.
    let after = tempfile::tempdir().unwrap();
    dbt(&["compile"], after.path(), &env);
    assert_same_sql(after.path(), &project, &renderer, true);
    println!("dbt and Uranus compile the {models} models alike, for a first build and for an increment");
}
