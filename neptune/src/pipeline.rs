//! The pipeline: source (Kafka, at the table's offsets less the dedup window) → decode (a row, a copy of a recent
//! row, or a dead letter) → sink (data files, committed with the offsets once a day's file reaches the target
//! size or the batch is `commit_interval` old, whichever comes first). Any failure ends the loop; the caller
//! starts it again from the table's offsets, which is how a failure is retried without losing or repeating a row.

use packetpulse_ops::kafka::dead_letter::DeadLetters;
use rdkafka::Message;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::offsets::Offsets;
use crate::recent::RecentEvents;
use crate::sink::TableSink;
use crate::source::{Decoded, Source, decode};

/// Opens the table and the topic and runs the Kafka loop until `shutdown`, committing what was read before
/// returning.
pub async fn run(config: &Config, metrics: &Metrics, shutdown: &CancellationToken) -> Result<(), Error> {
    let mut sink = TableSink::open(config, metrics).await?;
    let mut recent = RecentEvents::new(config.dedup_window);
    let source = Source::assign(config, sink.offsets(), recent.window(), shutdown).await?;
    let (committed, committed_rx) = watch::channel(sink.offsets().clone());
    let lag_monitor = source.monitor_lag(committed_rx, metrics.consumer_lag.clone());
    let mut dead_letters = DeadLetters::new(&config.kafka_bootstrap_servers, &config.dead_letter_topic)?;
    let result = read_loop(
        config,
        &mut sink,
        &source,
        &mut dead_letters,
        &mut recent,
        &committed,
        shutdown,
    )
    .await;
    lag_monitor.abort();
    result
}

async fn read_loop(
    config: &Config,
    sink: &mut TableSink,
    source: &Source,
    dead_letters: &mut DeadLetters,
    recent: &mut RecentEvents,
    committed: &watch::Sender<Offsets>,
    shutdown: &CancellationToken,
) -> Result<(), Error> {
    let metrics = sink.metrics().clone();
    let commit = async |sink: &mut TableSink, dead_letters: &mut DeadLetters| {
        dead_letters.acknowledged().await?;
        sink.commit(shutdown).await?;
        source.report_committed(sink.offsets());
        committed.send_replace(sink.offsets().clone());
        Ok::<_, Error>(())
    };
    // Set when the first message after a commit arrives: the batch is committed by then at the latest.
    let mut deadline: Option<Instant> = None;
    loop {
        let due = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            () = due => {
                commit(sink, dead_letters).await?;
                deadline = None;
            }
            message = source.consumer().next_message() => {
                let (partition, offset) = (message.partition(), message.offset());
                let decoded = decode(message.payload(), partition, offset);
                let copy = match &decoded {
                    Decoded::Row(row) => recent.seen_before(partition, offset, row.event.event_id),
                    Decoded::Invalid(_) => false,
                };
                metrics.dedup_window_ids.set(recent.held() as i64);
                if sink.offsets().next.get(&partition).is_some_and(|&next| offset < next) {
                    // Re-reading the dedup window before the table's offsets: already handled.
                    continue;
                }
                match decoded {
                    Decoded::Row(_) if copy => {
                        metrics.duplicates_dropped.inc();
                        sink.skip(partition, offset);
                    }
                    Decoded::Row(row) => sink.push(row).await?,
                    Decoded::Invalid(letter) => {
                        dead_letters.send(&letter)?;
                        metrics.dead_lettered.inc();
                        sink.skip(partition, offset);
                    }
                }
                deadline.get_or_insert_with(|| Instant::now() + config.commit_interval);
                if sink.batch_is_full() {
                    commit(sink, dead_letters).await?;
                    deadline = None;
                }
            }
        }
    }
    if deadline.is_some() {
        tracing::info!(
            rows = sink.buffered_rows(),
            "shutting down: committing what was read"
        );
        commit(sink, dead_letters).await?;
    }
    Ok(())
}
