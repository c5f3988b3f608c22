//! The source: the `sessions` topic read in the consumer group (more Jupiter instances share the partitions;
//! each starts at the group's committed offsets, which the pipeline commits only after the insert).

use packetpulse_ops::kafka::{Consumer, ConsumerConfig};
use tokio::task::JoinHandle;

use crate::Error;
use crate::config::Config;
use crate::metrics::Metrics;

/// Joins the group on the configured topic.
pub fn subscribe(config: &Config) -> Result<Consumer, Error> {
    let session_timeout = config.session_timeout();
    let mut settings = ConsumerConfig::new(&config.kafka_bootstrap_servers, &config.group)
        .set("session.timeout.ms", session_timeout.as_millis().to_string())
        .set(
            "heartbeat.interval.ms",
            heartbeat_interval(session_timeout).as_millis().to_string(),
        )
        .set("fetch.wait.max.ms", config.fetch_wait.as_millis().to_string());
    if let Some(instance_id) = &config.instance_id {
        settings = settings.set("group.instance.id", instance_id);
    }
    let consumer = settings.create()?;
    consumer.subscribe(&config.topic)?;
    Ok(consumer)
}

/// A third of the session timeout (Kafka's advice), at most 3 s: members learn of a rebalance from a heartbeat's
/// answer, so a long session timeout (static membership, ARCHITECTURE decision 12) must not slow that down.
fn heartbeat_interval(session_timeout: std::time::Duration) -> std::time::Duration {
    (session_timeout / 3).min(std::time::Duration::from_secs(3))
}

/// Publishes lag per partition assigned to this instance, measured from the consumer's position, and the number
/// of partitions assigned, until the returned task is aborted.
pub fn monitor_lag(consumer: &Consumer, config: &Config, metrics: &Metrics) -> JoinHandle<()> {
    let topic = config.topic.clone();
    let assigned = metrics.partitions_assigned.clone();
    packetpulse_ops::kafka::lag::spawn_monitor(
        consumer.clone(),
        config.topic.clone(),
        move |consumer| {
            assigned.set(consumer.assigned(&topic).len() as i64);
            consumer.positions(&topic)
        },
        metrics.consumer_lag.clone(),
    )
}
