//! Names that several planets must spell the same way: Kafka topics, tables, and the columns shared by the
//! bronze (Iceberg) and silver (ClickHouse) layers.

/// Kafka topics.
pub mod topics {
    /// Every valid event, JSON [`crate::PublishedEvent`], key = `session_id`.
    pub const SESSIONS: &str = "sessions";
    /// Rejected input, JSON [`crate::DeadLetter`].
    pub const DEAD_LETTER: &str = "sessions.dlq";
    /// Revoked device credentials, JSON [`crate::devices::Revocation`], key = the credential's id; compacted, so
    /// the topic holds every revocation ever made. Mercury writes it, Venus follows it.
    pub const DEVICE_REVOCATIONS: &str = "devices.revoked";
    /// Geofence definitions, JSON [`crate::Geofence`], key = its id, tombstone on delete; compacted. Mercury
    /// writes it, the alert detector follows it.
    pub const GEOFENCES: &str = "geofences";
    /// Per-rule threshold overrides, JSON [`crate::RuleThresholds`], key = the rule (`overspeed`, `idle`,
    /// `offline`, `abandoned`), tombstone = back to the detector's own setting; compacted. Mercury writes it, the
    /// alert detector follows it.
    pub const ALERT_RULES: &str = "alert-rules";
    /// Alerts, JSON [`crate::Alert`], key = the session id.
    pub const ALERTS: &str = "alerts";
}

/// The bronze layer's Iceberg table.
pub mod bronze {
    /// Iceberg namespace.
    pub const NAMESPACE: &str = "bronze";
    /// Iceberg table inside [`NAMESPACE`].
    pub const TABLE: &str = "delivery_events";
}

/// The ClickHouse database of the silver and gold layers.
pub mod clickhouse {
    /// Database name.
    pub const DATABASE: &str = "packetpulse";
    /// Silver: every event, deduplicated by `event_id`.
    pub const SESSION_MOVEMENTS: &str = "session_movements";
    /// Silver: one row per session.
    pub const SESSIONS: &str = "sessions";
    /// Silver: completed orders.
    pub const ORDERS: &str = "orders";
    /// Silver: first and last seen per vehicle.
    pub const VEHICLES: &str = "vehicles";
    /// Silver: newest position per active session, for the live map.
    pub const LATEST_POSITIONS: &str = "latest_positions";
    /// Silver: every alert the detector raised, deduplicated by `alert_id`.
    pub const ALERTS: &str = "alerts";
}

/// Column names used for event fields in both Iceberg and ClickHouse. Event content fields keep their wire names
/// (`session_id`, `current_lat`, …); these are the ones that differ or exist only in storage.
pub mod columns {
    /// The event id (UUID).
    pub const EVENT_ID: &str = "event_id";
    /// The event's `timestamp`, stored as a timestamp column.
    pub const EVENT_TIME: &str = "event_time";
    /// When Venus received the event.
    pub const RECEIVED_AT: &str = "received_at";
    /// The Kafka payload exactly as read.
    pub const RAW_PAYLOAD: &str = "raw_payload";
    /// Kafka partition the event was read from.
    pub const KAFKA_PARTITION: &str = "kafka_partition";
    /// Kafka offset the event was read from.
    pub const KAFKA_OFFSET: &str = "kafka_offset";
}
