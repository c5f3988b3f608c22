//! Consumer lag: how many messages of each partition a planet has not yet made durable, published as a gauge
//! per partition every few seconds. The planet says what "done" means (Neptune: the offsets in its table;
//! Jupiter: its fetch position); the high watermarks come from the broker, on the blocking pool.

use std::collections::BTreeMap;
use std::time::Duration;

use prometheus::IntGaugeVec;
use rdkafka::consumer::Consumer as _;
use tokio::task::JoinHandle;

use super::Consumer;

/// How often lag is measured.
pub const LAG_INTERVAL: Duration = Duration::from_secs(5);
/// How long one watermark request may take.
const WATERMARK_TIMEOUT: Duration = Duration::from_secs(5);

/// Measures lag every [`LAG_INTERVAL`] into `gauge` (label: partition) until the returned task is aborted.
/// `done` gives, for every partition to measure, the next offset the planet still has to make durable.
pub fn spawn_monitor(
    consumer: Consumer,
    topic: String,
    done: impl Fn(&Consumer) -> BTreeMap<i32, i64> + Send + 'static,
    gauge: IntGaugeVec,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(LAG_INTERVAL);
        loop {
            ticks.tick().await;
            let done = done(&consumer);
            let (consumer, topic) = (consumer.clone(), topic.clone());
            let measured = tokio::task::spawn_blocking(move || measure(&consumer, &topic, &done)).await;
            let Ok(lag) = measured else { return };
            for (partition, lag) in lag {
                gauge.with_label_values(&[&partition.to_string()]).set(lag);
            }
        }
    })
}

/// High watermark minus `done` for each partition in it. Blocks on one broker round trip per partition; a
/// partition whose watermark cannot be read is left out this time.
fn measure(consumer: &Consumer, topic: &str, done: &BTreeMap<i32, i64>) -> Vec<(i32, i64)> {
    done.iter()
        .filter_map(|(&partition, &next)| {
            let (_, high) = consumer
                .inner
                .fetch_watermarks(topic, partition, WATERMARK_TIMEOUT)
                .ok()?;
            Some((partition, (high - next).max(0)))
        })
        .collect()
}
