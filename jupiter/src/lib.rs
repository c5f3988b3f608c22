//! Jupiter, PacketPulse's silver layer: every event of the Kafka topic `sessions`, cleaned and enriched, in the
//! ClickHouse database `packetpulse`.
//!
//! Work in progress (issue 5): the schema ([`migrations`]) and the enrichment ([`transform`]) are here; the Kafka
//! loop, backfill from bronze, operations endpoints and the binary follow.

mod error;
pub mod migrations;
pub mod transform;

pub use error::Error;
