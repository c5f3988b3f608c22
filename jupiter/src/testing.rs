//! Silver as Jupiter writes it, for the tests of the crates that read it (feature `testing`): Uranus' gold tests
//! and Mercury's dashboard tests seed their ClickHouse through Jupiter's own migrations, enrichment and sink, so
//! what they read is exactly what streaming would have written.

use chrono::{DateTime, Utc};
use clickhouse::Client;
use packetpulse_model::PublishedEvent;
use tokio_util::sync::CancellationToken;

use crate::Metrics;
use crate::sink::{Batch, SilverSink, SinkOptions};
use crate::transform::{Enricher, Position};

/// Writes events into the silver tables of one database. The enricher is kept between batches, as streaming
/// keeps it between messages: a session continued in a later batch is measured from its previous point.
pub struct SilverSeeder {
    client: Client,
    enricher: Enricher,
}

impl SilverSeeder {
    /// Creates (migrates) the silver tables of `database` on `client`'s server.
    pub async fn new(client: &Client, database: &str) -> Self {
        crate::migrations::migrate(client, database)
            .await
            .expect("the silver tables are created");
        Self {
            client: client.clone().with_database(database),
            enricher: Enricher::new(crate::Config::defaults().max_speed_kmh),
        }
    }

    /// Inserts `events` (in time order per session) as one batch ingested at `ingested_at`, the incremental gold
    /// models' watermark.
    pub async fn insert(&mut self, events: Vec<PublishedEvent>, ingested_at: DateTime<Utc>) {
        let ingested_at_ms = u64::try_from(ingested_at.timestamp_millis()).expect("a time after 1970");
        let rows = events
            .into_iter()
            .map(|event| self.enricher.enrich(event, Position::default(), ingested_at_ms))
            .collect();
        let options = SinkOptions::new(Metrics::new(), CancellationToken::new());
        let sink = SilverSink::start(self.client.clone(), options);
        sink.submit(Batch {
            rows,
            alerts: Vec::new(),
            newest_event_ms: 0,
            started: tokio::time::Instant::now(),
            after_insert: None,
        })
        .await
        .expect("the sink takes the batch");
        sink.finish().await.expect("the batch is inserted");
    }
}
