//! The pipeline: source (Kafka, at the table's offsets) → decode (a row or a dead letter) → sink (data files,
//! committed with the offsets every `commit_interval` or `commit_rows`, whichever comes first). Any failure ends
//! the loop; the caller starts it again from the table's offsets, which is how a failure is retried without
//! losing or repeating a row.

use packetpulse_ops::kafka::dead_letter::DeadLetters;
use rdkafka::Message;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::offsets::Offsets;
use crate::sink::TableSink;
use crate::source::{Decoded, Source, decode};

/// Opens the table and the topic and runs the Kafka loop until `shutdown`, committing what was read before
/// returning.
pub async fn run(config: &Config, metrics: &Metrics, shutdown: &CancellationToken) -> Result<(), Error> {
    let mut sink = TableSink::open(config, metrics).await?;
    let source = Source::assign(config, sink.offsets(), shutdown).await?;
    let (committed, committed_rx) = watch::channel(sink.offsets().clone());
    let lag_monitor = source.monitor_lag(committed_rx, metrics.consumer_lag.clone());
    let mut dead_letters = DeadLetters::new(&config.kafka_bootstrap_servers, &config.dead_letter_topic)?;
    let result = read_loop(
        config,
        &mut sink,
        &source,
        &mut dead_letters,
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
                match decode(message.payload(), partition, offset) {
                    Decoded::Row(row) => sink.push(row).await?,
                    Decoded::Invalid(letter) => {
                        dead_letters.send(&letter)?;
                        metrics.dead_lettered.inc();
                        sink.skip(partition, offset);
                    }
                }
                deadline.get_or_insert_with(|| Instant::now() + config.commit_interval);
                if sink.buffered_rows() >= config.commit_rows {
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
