//! The two ways to run the platform agree with what the planets read: every variable a planet reads (with a
//! default) is set by docker-compose.yml and by the native run, and neither sets a variable no planet reads;
//! the compose file validates; Trino's catalogs and SQLPad's settings have the keys those programs expect.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};

use clap::CommandFactory;
use packetpulse_stack::{compose_env, env_file, env_vars, generate_secrets, missing, native_env, repo_root};

fn planets() -> Vec<(&'static str, BTreeMap<String, bool>)> {
    vec![
        ("mars", env_vars(&mars::Config::command())),
        ("venus", env_vars(&venus::Config::command())),
        ("neptune", env_vars(&neptune::Config::command())),
        ("jupiter", env_vars(&jupiter::Config::command())),
        ("uranus", env_vars(&uranus::Config::command())),
        ("mercury", env_vars(&mercury::server::Config::command())),
    ]
}

#[test]
fn every_variable_a_planet_reads_is_set_by_compose_and_by_the_native_run() {
    let data = std::env::temp_dir().join("packetpulse-stack-config");
    for (planet, wanted) in planets() {
        assert!(wanted.len() >= 5, "{planet} reads only {wanted:?}");
        let compose = compose_env(planet).unwrap();
        let native = native_env(planet, &data).unwrap();
        assert_eq!(
            missing(&wanted, &compose),
            BTreeSet::new(),
            "{planet}: not set in docker-compose.yml"
        );
        assert_eq!(
            missing(&wanted, &native),
            BTreeSet::new(),
            "{planet}: not set by make up"
        );
    }
}

#[test]
fn no_run_sets_a_variable_that_no_planet_reads() {
    let read: BTreeSet<String> = planets()
        .into_iter()
        .flat_map(|(_, vars)| vars.into_keys())
        .collect();
    let shared = env_file(&repo_root().join("infrastructure/planets.env")).unwrap();
    let typos: Vec<&String> = shared.keys().filter(|key| !read.contains(*key)).collect();
    assert!(
        typos.is_empty(),
        "infrastructure/planets.env sets variables no planet reads: {typos:?}"
    );
    let data = std::env::temp_dir().join("packetpulse-stack-config");
    for (planet, wanted) in planets() {
        // Per-planet settings (beyond the shared file) must be ones this planet reads.
        for (run, vars) in [
            ("docker-compose.yml", compose_env(planet).unwrap()),
            ("make up", native_env(planet, &data).unwrap()),
        ] {
            let stray: Vec<&String> = vars
                .keys()
                .filter(|key| !shared.contains_key(*key) && !wanted.contains_key(*key))
                .collect();
            assert!(
                stray.is_empty(),
                "{run} gives {planet} variables it does not read: {stray:?}"
            );
        }
    }
}

#[test]
fn docker_compose_validates_the_file() {
    // With the secrets `make secrets` writes: compose refuses to run without them (tests/secrets.rs).
    let dir = tempfile::tempdir().unwrap();
    let env = dir.path().join(".env");
    assert!(generate_secrets("compose", &env).status.success());
    let output = std::process::Command::new("docker-compose")
        .args(["-f", "docker-compose.yml", "--env-file"])
        .arg(&env)
        .args(["config", "--quiet"])
        .current_dir(repo_root())
        .output()
        .unwrap_or_else(|error| {
            panic!("docker-compose is needed ({error}): run bash infrastructure/local/install.sh (Debian's docker-compose)")
        });
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn properties(path: &str) -> BTreeMap<String, String> {
    env_file(&repo_root().join(path)).unwrap()
}

/// `${ENV:NAME}` references in a Trino properties value.
fn env_references(value: &str) -> Vec<String> {
    value
        .split("${ENV:")
        .skip(1)
        .filter_map(|rest| rest.split_once('}'))
        .map(|(name, _)| name.to_owned())
        .collect()
}

#[test]
fn trino_catalogs_have_the_connector_keys_and_every_secret_they_reference_is_set() {
    let iceberg = properties("infrastructure/trino/etc/catalog/iceberg.properties");
    let clickhouse = properties("infrastructure/trino/etc/catalog/clickhouse.properties");
    for (key, value) in [
        ("connector.name", "iceberg"),
        ("iceberg.catalog.type", "jdbc"),
        ("s3.path-style-access", "true"),
    ] {
        assert_eq!(
            iceberg.get(key).map(String::as_str),
            Some(value),
            "iceberg.properties {key}"
        );
    }
    for key in [
        "iceberg.jdbc-catalog.driver-class",
        "iceberg.jdbc-catalog.connection-url",
        "iceberg.jdbc-catalog.connection-user",
        "iceberg.jdbc-catalog.connection-password",
        "iceberg.jdbc-catalog.catalog-name",
        "iceberg.jdbc-catalog.default-warehouse-dir",
        "s3.endpoint",
        "s3.aws-access-key",
        "s3.aws-secret-key",
    ] {
        assert!(iceberg.contains_key(key), "iceberg.properties lacks {key}");
    }
    assert_eq!(
        clickhouse.get("connector.name").map(String::as_str),
        Some("clickhouse")
    );
    assert!(clickhouse["connection-url"].starts_with("jdbc:clickhouse://clickhouse:8123"));
    // Trino refuses to start when a referenced variable is unset.
    let trino_env = compose_env("trino").unwrap();
    for value in iceberg.values().chain(clickhouse.values()) {
        for name in env_references(value) {
            assert!(
                trino_env.contains_key(&name),
                "the trino service does not set {name}"
            );
        }
    }
}

#[test]
fn sqlpad_has_an_admin_and_trino_connections_for_bronze_and_silver() {
    let sqlpad = compose_env("sqlpad").unwrap();
    assert_eq!(
        sqlpad.get("SQLPAD_ADMIN").map(String::as_str),
        Some("admin@example.com")
    );
    assert!(sqlpad.contains_key("SQLPAD_ADMIN_PASSWORD"));
    let connections: BTreeSet<&str> = sqlpad
        .keys()
        .filter_map(|key| key.strip_prefix("SQLPAD_CONNECTIONS__"))
        .filter_map(|rest| rest.split_once("__").map(|(id, _)| id))
        .collect();
    assert_eq!(connections, BTreeSet::from(["trinobronze", "trinosilver"]));
    for id in connections {
        let field = |name: &str| {
            sqlpad
                .get(&format!("SQLPAD_CONNECTIONS__{id}__{name}"))
                .cloned()
                .unwrap_or_default()
        };
        assert_eq!(field("driver"), "trino");
        assert_eq!(
            (field("host").as_str(), field("port").as_str()),
            ("trino", "8080")
        );
        assert!(
            ["iceberg", "clickhouse"].contains(&field("catalog").as_str()),
            "{id}"
        );
    }
}
