//! No known secret anywhere: docker compose has no default for any secret and publishes only what users open;
//! `make secrets` and `make up` generate private, random ones; and every planet refuses to start with an empty or
//! publicly known secret, naming the setting to change.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;

use packetpulse_stack::{
    COMPOSE_SECRETS, NATIVE_SECRETS, compose_env, env_file, generate_secrets, native_env, repo_root,
};

fn compose_file() -> serde_json::Value {
    let text = std::fs::read_to_string(repo_root().join("docker-compose.yml")).unwrap();
    serde_saphyr::from_str(&text).unwrap()
}

#[test]
fn compose_has_no_default_for_any_secret() {
    let text = std::fs::read_to_string(repo_root().join("docker-compose.yml")).unwrap();
    for secret in COMPOSE_SECRETS {
        let uses: Vec<&str> = text
            .match_indices(&format!("${{{secret}"))
            .map(|(at, _)| &text[at..])
            .collect();
        assert!(!uses.is_empty(), "docker-compose.yml never uses {secret}");
        for used in uses {
            assert!(
                used.starts_with(&format!("${{{secret}:?set {secret} in .env, make secrets")),
                "{secret} must be required (`${{{secret}:?…}}`), not defaulted: {}",
                used.lines().next().unwrap()
            );
        }
    }
    // Refused without them, naming the way out.
    let empty = tempfile::NamedTempFile::new().unwrap();
    let output = std::process::Command::new("docker-compose")
        .args(["-f", "docker-compose.yml", "--env-file"])
        .arg(empty.path())
        .args(["config", "--quiet"])
        .current_dir(repo_root())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success() && stderr.contains("make secrets"),
        "{stderr}"
    );
}

#[test]
fn compose_publishes_only_what_users_open() {
    let compose = compose_file();
    let services = compose["services"].as_object().unwrap();
    let mut published = BTreeMap::new();
    for (name, service) in services {
        for port in service["ports"].as_array().into_iter().flatten() {
            let port = port.as_str().unwrap().to_owned();
            // Loopback-only publishing is allowed: it does not leave the host.
            if !port.starts_with("127.0.0.1:") {
                published.insert(name.clone(), port);
            }
        }
    }
    let expected: BTreeMap<String, String> = [
        ("mercury", "3000:3000"),
        ("venus", "8000:8000"),
        ("trino", "8080:8080"),
        ("sqlpad", "3002:3000"),
    ]
    .into_iter()
    .map(|(name, port)| (name.to_owned(), port.to_owned()))
    .collect();
    assert_eq!(published, expected);
    // ClickHouse has a password for its one user.
    let clickhouse = compose_env("clickhouse").unwrap();
    assert!(clickhouse["CLICKHOUSE_PASSWORD"].starts_with("${CLICKHOUSE_PASSWORD:?"));
}

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn make_secrets_writes_a_private_env_with_every_secret_random_and_never_overwrites_it() {
    let dir = tempfile::tempdir().unwrap();
    let env = dir.path().join(".env");
    let output = generate_secrets("compose", &env);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(mode(&env), 0o600);
    let values = env_file(&env).unwrap();
    for secret in COMPOSE_SECRETS {
        let value = &values[secret];
        let checked = if secret == "VENUS_API_KEYS" {
            let key = value.strip_prefix("mars:").unwrap();
            assert_eq!(key, values["MARS_API_KEY"], "Venus accepts the key Mars sends");
            packetpulse_ops::secrets::check_secret(secret, key)
        } else if secret == "S3_ACCESS_KEY_ID" {
            packetpulse_ops::secrets::check_not_public(secret, value)
        } else {
            packetpulse_ops::secrets::check_signing_key(secret, value)
                .or_else(|_| packetpulse_ops::secrets::check_secret(secret, value))
        };
        assert_eq!(checked, Ok(()), "{secret}={value}");
    }
    // Every other key of .env.example is kept as it is there.
    let example = env_file(&repo_root().join(".env.example")).unwrap();
    for (key, value) in &example {
        if !COMPOSE_SECRETS.contains(&key.as_str()) {
            assert_eq!(&values[key], value, "{key}");
        } else {
            assert!(value.is_empty(), ".env.example has a value for the secret {key}");
        }
    }
    // docker compose accepts the file.
    let config = std::process::Command::new("docker-compose")
        .args(["-f", "docker-compose.yml", "--env-file"])
        .arg(&env)
        .args(["config", "--quiet"])
        .current_dir(repo_root())
        .output()
        .unwrap();
    assert!(
        config.status.success(),
        "{}",
        String::from_utf8_lossy(&config.stderr)
    );
    // A second run refuses: the first secrets stay.
    let again = generate_secrets("compose", &env);
    assert!(!again.status.success());
    assert_eq!(env_file(&env).unwrap(), values);
    let other = tempfile::tempdir().unwrap().path().join(".env");
    let _ = generate_secrets("compose", &other);
    assert_ne!(
        env_file(&other).unwrap().get("MERCURY_JWT_SECRET"),
        values.get("MERCURY_JWT_SECRET"),
        "random, not fixed"
    );
}

#[test]
fn the_native_run_generates_its_secrets_once_and_gives_them_to_the_planets() {
    let dir = tempfile::tempdir().unwrap();
    let before = native_env("venus", dir.path()).unwrap();
    assert_eq!(before["VENUS_API_KEYS"], "", "no secret before the first start");
    let file = dir.path().join("secrets.env");
    assert!(generate_secrets("native", &file).status.success());
    assert_eq!(mode(&file), 0o600);
    let secrets = env_file(&file).unwrap();
    assert_eq!(secrets.keys().cloned().collect::<Vec<_>>(), {
        let mut names: Vec<String> = NATIVE_SECRETS.iter().map(|s| (*s).to_owned()).collect();
        names.sort();
        names
    });
    assert!(generate_secrets("native", &file).status.success());
    assert_eq!(env_file(&file).unwrap(), secrets, "kept, not regenerated");
    assert_device_keys_pair_up(&secrets);
    for (planet, names) in [
        ("venus", &["VENUS_API_KEYS", "VENUS_DEVICE_TOKEN_KEY"][..]),
        ("mars", &["MARS_API_KEY"]),
        (
            "mercury",
            &[
                "MERCURY_JWT_SECRET",
                "MERCURY_ADMIN_PASSWORD",
                "MERCURY_DEVICE_SIGNING_KEY",
            ],
        ),
        ("neptune", &["S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"]),
        ("jupiter", &["S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"]),
    ] {
        let env = native_env(planet, dir.path()).unwrap();
        for name in names {
            assert_eq!(env[*name], secrets[*name], "{planet} {name}");
        }
    }
}

/// Mercury's generated signing key makes device tokens that Venus, given the generated public key, accepts.
fn assert_device_keys_pair_up(secrets: &BTreeMap<String, String>) {
    use base64::Engine;
    let der = base64::engine::general_purpose::STANDARD
        .decode(&secrets["MERCURY_DEVICE_SIGNING_KEY"])
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = packetpulse_model::devices::DeviceClaims {
        iss: packetpulse_model::devices::ISSUER.into(),
        aud: packetpulse_model::devices::AUDIENCE.into(),
        sub: "device-1".into(),
        vid: Some("vehicle-1".into()),
        jti: "credential-1".into(),
        iat: now,
        nbf: now,
        exp: now + 60,
    };
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA),
        &claims,
        &jsonwebtoken::EncodingKey::from_ed_der(&der),
    )
    .unwrap();
    let venus = venus::auth::Authenticator::with_devices(
        "",
        None,
        None,
        "packetpulse-venus",
        &secrets["VENUS_DEVICE_TOKEN_KEY"],
    )
    .unwrap();
    let identity = venus.token(&token).unwrap();
    assert_eq!(identity.vehicle.as_deref(), Some("vehicle-1"));
}

fn assert_names(error: &str, setting: &str) {
    assert!(
        error.starts_with(setting),
        "the error must name {setting}: {error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_planet_refuses_an_empty_or_public_secret_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let never = std::future::pending::<()>;
    for refused in ["", "packetpulse-dev-key", "password"] {
        let mut venus = venus::Config::defaults();
        venus.api_keys = format!("mars:{refused}");
        venus.kafka_bootstrap_servers = "127.0.0.1:1".into();
        let error = venus::Venus::bind(venus).await.err().unwrap().to_string();
        assert_names(&error, "VENUS_API_KEYS");

        let mut mars = mars::Config::defaults();
        mars.api_key = refused.into();
        assert_names(
            &mars::run(mars, never()).await.unwrap_err().to_string(),
            "MARS_API_KEY",
        );
    }
    // ClickHouse's password may be empty (the native run's loopback user) but not a known one.
    let mut jupiter = jupiter::Config::defaults();
    jupiter.clickhouse.password = "packetpulse".into();
    assert_names(
        &jupiter::run(jupiter, never()).await.unwrap_err().to_string(),
        "CLICKHOUSE_PASSWORD",
    );
    let mut uranus = uranus::Config::defaults();
    uranus.clickhouse.password = "packetpulse".into();
    assert_names(
        &uranus::run(uranus, never()).await.unwrap_err().to_string(),
        "CLICKHOUSE_PASSWORD",
    );

    let mut venus = venus::Config::defaults();
    venus.jwt_hs256_secret = Some("packetpulse-dev-only-jwt-secret-change-me".into());
    assert_names(
        &venus::Venus::bind(venus).await.err().unwrap().to_string(),
        "VENUS_JWT_HS256_SECRET",
    );

    for (jwt_secret, admin_password, setting) in [
        ("", "a-long-admin-password", "MERCURY_JWT_SECRET"),
        (
            "packetpulse-dev-only-jwt-secret-change-me",
            "a-long-admin-password",
            "MERCURY_JWT_SECRET",
        ),
        (
            "a-random-signing-key-of-at-least-32-bytes",
            "",
            "MERCURY_ADMIN_PASSWORD",
        ),
        (
            "a-random-signing-key-of-at-least-32-bytes",
            "password",
            "MERCURY_ADMIN_PASSWORD",
        ),
        (
            "a-random-signing-key-of-at-least-32-bytes",
            "a-long-admin-password",
            "MERCURY_DEVICE_SIGNING_KEY",
        ),
    ] {
        let mut mercury = mercury::server::Config::defaults();
        mercury.jwt_secret = jwt_secret.into();
        mercury.admin_password = admin_password.into();
        mercury.database = dir.path().join("users.db").display().to_string();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let error = mercury::server::run_with(mercury, listener, never())
            .await
            .unwrap_err();
        assert_names(&error.to_string(), setting);
    }

    for (key_id, secret, setting) in [
        ("", "a-long-random-secret", "S3_ACCESS_KEY_ID"),
        ("minioadmin", "a-long-random-secret", "S3_ACCESS_KEY_ID"),
        ("packetpulse-key", "", "S3_SECRET_ACCESS_KEY"),
        ("packetpulse-key", "minioadmin", "S3_SECRET_ACCESS_KEY"),
    ] {
        let mut neptune = neptune::Config::defaults();
        neptune.lake.catalog_uri = format!("sqlite://{}", dir.path().join("catalog.db").display());
        neptune.lake.s3_access_key_id = key_id.into();
        neptune.lake.s3_secret_access_key = secret.into();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let metrics = neptune::Metrics::new();
        let error = neptune::run_with(&neptune, &metrics, listener, never())
            .await
            .unwrap_err();
        assert_names(&error.to_string(), setting);

        let mut jupiter = jupiter::Config::defaults();
        jupiter.command = Some(jupiter::Command::Backfill { from_bronze: true });
        jupiter.lake = neptune.lake.clone();
        assert_names(
            &jupiter::run(jupiter, never()).await.unwrap_err().to_string(),
            setting,
        );
    }
}
