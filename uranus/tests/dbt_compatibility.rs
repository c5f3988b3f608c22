//! The project stays a dbt project: dbt itself (dbt-core with the dbt-clickhouse adapter, from the install
//! script's venv) parses `uranus/dbt` with warnings as errors, and its manifest agrees with Uranus on the models,
//! their materializations, what each one reads, and how many tests each model has.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use uranus::project::Project;
use uranus::runner::Runner;

#[test]
fn dbt_parses_the_project_and_sees_the_same_models_dependencies_and_tests() {
    let dbt = packetpulse_testkit::venv_program("dbt-venv", "dbt").unwrap_or_else(|error| panic!("{error}"));
    let project_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("dbt");
    let out = tempfile::tempdir().unwrap();
    let output = Command::new(dbt)
        .args(["--warn-error", "parse", "--no-partial-parse"])
        .arg("--project-dir")
        .arg(&project_dir)
        .arg("--profiles-dir")
        .arg(&project_dir)
        .arg("--target-path")
        .arg(out.path().join("target"))
        .arg("--log-path")
        .arg(out.path().join("logs"))
        .env("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        .env("CLICKHOUSE_DATABASE", "packetpulse")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "dbt parse failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
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
    let renderer = uranus::render::Renderer::new(&project, "packetpulse").unwrap();
    let runner = Runner::new(clickhouse::Client::default(), "packetpulse", project.clone()).unwrap();
    let mut uranus_models = BTreeMap::new();
    for (name, model) in &project.models {
        let rendered = renderer.render(model, false).unwrap();
        let config =
            uranus::materialize::ModelConfig::from_values(name, &model.path, &rendered.config).unwrap();
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
