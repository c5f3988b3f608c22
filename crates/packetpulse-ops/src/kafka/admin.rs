//! Creating the topics a planet needs when they are missing (a fresh broker; tests), with their settings.

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::types::RDKafkaErrorCode;

use super::KafkaError;

/// A topic to have: name, partitions, and whether it is compacted (a table by key).
#[derive(Debug, Clone, Copy)]
pub struct TopicSpec<'a> {
    /// Its name.
    pub name: &'a str,
    /// Partitions, when created here.
    pub partitions: i32,
    /// `cleanup.policy=compact`: the newest record per key stays forever.
    pub compacted: bool,
}

/// Creates those of `topics` the broker does not have (replication factor 1 unless the broker's default is
/// used for an existing topic). One that another process created meanwhile is fine.
pub async fn ensure_topics(bootstrap_servers: &str, topics: &[TopicSpec<'_>]) -> Result<(), KafkaError> {
    let error = |what: &str| {
        let servers = bootstrap_servers.to_owned();
        let what = what.to_owned();
        move |source| KafkaError::new(&servers, what, source)
    };
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", bootstrap_servers);
    let lister: BaseConsumer = config.create().map_err(error("creating a metadata client"))?;
    let existing: Vec<String> = tokio::task::spawn_blocking(move || {
        lister
            .fetch_metadata(None, Duration::from_secs(10))
            .map(|metadata| metadata.topics().iter().map(|t| t.name().to_owned()).collect())
    })
    .await
    .unwrap_or_else(|_| Ok(Vec::new()))
    .map_err(error("listing topics"))?;
    let missing: Vec<NewTopic<'_>> = topics
        .iter()
        .filter(|topic| !existing.iter().any(|name| name == topic.name))
        .map(|topic| {
            let new = NewTopic::new(topic.name, topic.partitions, TopicReplication::Fixed(1));
            if topic.compacted {
                new.set("cleanup.policy", "compact")
            } else {
                new
            }
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let admin: AdminClient<DefaultClientContext> =
        config.create().map_err(error("creating the admin client"))?;
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = admin
        .create_topics(missing.iter(), &options)
        .await
        .map_err(error("creating topics"))?;
    for result in results {
        match result {
            Ok(topic) => tracing::info!(topic, "created topic"),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(KafkaError::new(
                    bootstrap_servers,
                    format!("creating topic {topic}"),
                    rdkafka::error::KafkaError::AdminOp(code),
                ));
            }
        }
    }
    Ok(())
}
