//! Venus for the tests and benchmarks of any crate (feature `testing`): a configuration against a testkit broker,
//! and a Venus started on a free port with its topics created first on the mock cluster (which has no admin API).

use std::time::Duration;

use packetpulse_testkit::{Kafka, KafkaKind, unique_name};

use crate::{Config, Error, RunningVenus, Venus};

/// The API key of [`test_config`]; it authenticates as `test-client`.
pub const TEST_API_KEY: &str = "test-key-7d1f0c9a";

/// The defaults against `kafka`, with topics of their own (3 partitions) and [`TEST_API_KEY`].
pub fn test_config(kafka: &Kafka) -> Config {
    let mut config = Config::defaults();
    config.kafka_bootstrap_servers = kafka.bootstrap_servers();
    config.topic = unique_name("sessions");
    config.dead_letter_topic = format!("{}.dlq", config.topic);
    config.api_keys = format!("test-client:{TEST_API_KEY}");
    config.device_revocation_topic = format!("{}.revoked", config.topic);
    config.topic_partitions = 3;
    config
}

/// Starts Venus with `config` in the background.
pub async fn start(kafka: &Kafka, config: Config) -> RunningVenus {
    if kafka.kind() == KafkaKind::Mock {
        kafka
            .create_topic(&config.topic, config.topic_partitions)
            .await
            .expect("the mock cluster creates the topic");
        kafka
            .create_topic(&config.dead_letter_topic, 1)
            .await
            .expect("the mock cluster creates the dead-letter topic");
        kafka
            .create_topic(&config.device_revocation_topic, 1)
            .await
            .expect("the mock cluster creates the revocation topic");
    }
    Venus::bind(config).await.expect("venus binds").spawn()
}

/// Shuts `venus` down gracefully, failing the test if that takes more than a minute.
pub async fn stop(venus: RunningVenus) -> Result<(), Error> {
    tokio::time::timeout(Duration::from_secs(60), venus.shutdown())
        .await
        .expect("venus stops within a minute")
}
