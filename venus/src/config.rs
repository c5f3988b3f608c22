//! Venus' configuration: one struct, from command-line flags or environment variables (see README.md).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// Everything Venus needs to run.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "venus",
    version,
    about = "PacketPulse WebSocket gateway: events in, Kafka out"
)]
pub struct Config {
    /// Address to listen on for WebSocket clients, `/health`, `/ready` and `/metrics`.
    #[arg(long, env = "VENUS_LISTEN", default_value = "0.0.0.0:8000")]
    pub listen: SocketAddr,

    /// Kafka bootstrap servers.
    #[arg(long, env = "KAFKA_BOOTSTRAP_SERVERS", default_value = "127.0.0.1:9092")]
    pub kafka_bootstrap_servers: String,

    /// Topic for valid events.
    #[arg(long, env = "VENUS_TOPIC", default_value = packetpulse_model::topics::SESSIONS)]
    pub topic: String,

    /// Topic for rejected input.
    #[arg(long, env = "VENUS_DEAD_LETTER_TOPIC", default_value = packetpulse_model::topics::DEAD_LETTER)]
    pub dead_letter_topic: String,

    /// Partitions of the events topic when Venus creates it.
    #[arg(long, env = "VENUS_TOPIC_PARTITIONS", default_value_t = 6)]
    pub topic_partitions: i32,

    /// Replication factor of the topics when Venus creates them.
    #[arg(long, env = "VENUS_TOPIC_REPLICATION", default_value_t = 1)]
    pub topic_replication: i32,

    /// API keys as `name:key` pairs separated by commas (each key random, 12 characters at least). The name
    /// identifies the client in logs and the DLQ. No default: `make up` generates one for Mars.
    #[arg(long, env = "VENUS_API_KEYS", default_value = "", hide_env_values = true)]
    pub api_keys: String,

    /// HS256 secret for device JWTs (32 bytes at least); JWTs are refused when neither this nor an RS256 key is
    /// set.
    #[arg(long, env = "VENUS_JWT_HS256_SECRET", hide_env_values = true)]
    pub jwt_hs256_secret: Option<String>,

    /// PEM file with the RS256 public key for device JWTs.
    #[arg(long, env = "VENUS_JWT_RS256_PUBLIC_KEY_FILE")]
    pub jwt_rs256_public_key_file: Option<PathBuf>,

    /// Mercury's device-token public key: the raw 32-byte Ed25519 key, base64 (`make up` and `make secrets`
    /// generate the pair). Set: device tokens Mercury issues are accepted, each bound to its vehicle.
    #[arg(long, env = "VENUS_DEVICE_TOKEN_KEY", default_value = "")]
    pub device_token_key: String,

    /// The compacted topic of revoked device credentials Venus follows (Mercury writes it).
    #[arg(long, env = "VENUS_DEVICE_REVOCATION_TOPIC", default_value = packetpulse_model::topics::DEVICE_REVOCATIONS)]
    pub device_revocation_topic: String,

    /// Required `aud` claim of device JWTs.
    #[arg(long, env = "VENUS_JWT_AUDIENCE", default_value = "packetpulse-venus")]
    pub jwt_audience: String,

    /// Largest accepted text frame, bytes.
    #[arg(long, env = "VENUS_MAX_FRAME_BYTES", default_value_t = 1024 * 1024)]
    pub max_frame_bytes: usize,

    /// Most events in one frame.
    #[arg(long, env = "VENUS_MAX_EVENTS_PER_FRAME", default_value_t = 1000)]
    pub max_events_per_frame: usize,

    /// How far an event's `timestamp` may be ahead of the time Venus received it; later events are rejected
    /// (a clock years ahead would freeze the session on its newest event).
    #[arg(long, env = "VENUS_MAX_CLOCK_SKEW", default_value = "10m", value_parser = humantime::parse_duration)]
    pub max_clock_skew: Duration,

    /// Most concurrent WebSocket connections.
    #[arg(long, env = "VENUS_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,

    /// Frames one connection may have in flight (received, not yet answered) before Venus stops reading it.
    #[arg(long, env = "VENUS_MAX_FRAMES_IN_FLIGHT", default_value_t = 256)]
    pub max_frames_in_flight: usize,

    /// Events all connections together may have waiting for Kafka; beyond it, Venus stops reading sockets.
    #[arg(long, env = "VENUS_MAX_EVENTS_IN_FLIGHT", default_value_t = 200_000)]
    pub max_events_in_flight: usize,

    /// Bytes of messages (events and dead letters) all connections together may have waiting for Kafka: a
    /// 256 KiB dead letter weighs what it is, not one event. Beyond it, Venus stops reading sockets.
    #[arg(long, env = "VENUS_MAX_BYTES_IN_FLIGHT", default_value_t = 128 * 1024 * 1024)]
    pub max_bytes_in_flight: usize,

    /// A connection that sends nothing for this long is closed.
    #[arg(long, env = "VENUS_IDLE_TIMEOUT", default_value = "60s", value_parser = humantime::parse_duration)]
    pub idle_timeout: Duration,

    /// Time a new connection has to authenticate (authentication frame answered, or rejected).
    #[arg(long, env = "VENUS_AUTH_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub auth_timeout: Duration,

    /// Connections from one IP address that may wait to authenticate at once; a newer one closes the one
    /// waiting longest. Behind a proxy every client shares the proxy's address: raise it there.
    #[arg(long, env = "VENUS_MAX_UNAUTHENTICATED_PER_IP", default_value_t = 64)]
    pub max_unauthenticated_per_ip: usize,

    /// Time a reply may take to leave; a client that stops reading its replies is disconnected after it.
    #[arg(long, env = "VENUS_REPLY_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub reply_timeout: Duration,

    /// How long Kafka may take to acknowledge an event before the frame is answered with a retryable error.
    #[arg(long, env = "VENUS_DELIVERY_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub delivery_timeout: Duration,

    /// Idempotent producer (default). `false` is a workaround for brokers whose idempotence breaks across restarts
    /// (tansu 0.6): then one request is in flight per connection, so order still holds, and a broker-side retry
    /// duplicate carries its event id like any resend.
    #[arg(long, env = "VENUS_KAFKA_IDEMPOTENCE", default_value_t = true, action = clap::ArgAction::Set)]
    pub kafka_idempotence: bool,

    /// Producer `compression.type` (`lz4`, `none`, `gzip`, `snappy`). `none` for tansu, which decompresses every
    /// batch to store its records one by one: lz4 nearly doubles its CPU per message (crates/packetpulse-stack
    /// README, `broker_cost`); real Kafka stores batches as they come, so there compression saves disk and network.
    #[arg(long, env = "VENUS_KAFKA_COMPRESSION", default_value = "lz4", value_parser = ["lz4", "none", "gzip", "snappy"])]
    pub kafka_compression: String,

    /// Producer `linger.ms`: how long to wait to fill a batch. 0: a frame's events are one batch already, and a
    /// single-event frame (the original protocol) would only wait; batches still form while a request is in
    /// flight. Measured against 5 (crates/packetpulse-stack README, change 4): the same broker CPU at 1k vehicles.
    #[arg(long, env = "VENUS_KAFKA_LINGER_MS", default_value_t = 0)]
    pub kafka_linger_ms: u32,

    /// Log as JSON lines (for containers) instead of human-readable text.
    #[arg(long, env = "LOG_JSON", default_value_t = false)]
    pub log_json: bool,
}

impl Config {
    /// The configuration with every default, listening on a free port: what tests and benchmarks start from.
    pub fn defaults() -> Self {
        let mut config = Self::parse_from(["venus"]);
        config.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        config
    }
}
