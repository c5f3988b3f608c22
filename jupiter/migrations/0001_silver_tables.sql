-- Silver layer, version 1. Jupiter inserts into session_movements only; the other tables are materialised views
-- over it, so one insert keeps them consistent and a backfill is just re-inserting movements.
-- Duplicates (resends, Kafka redelivery after a crash) collapse: session_movements by its sorting key, which
-- contains event_id; the aggregates count distinct event ids. Read with FINAL / the -Merge functions.
-- SQL subset of ClickHouse 18.16 (../../docs/ARCHITECTURE.md, ClickHouse SQL subset): DateTime('UTC') plus
-- epoch-ms UInt64, no LowCardinality.

CREATE TABLE IF NOT EXISTS {database}.session_movements
(
    event_id String,
    session_id String,
    vehicle_id String,
    order_id String,
    device_id String,
    status String,
    event_time DateTime('UTC'),
    event_time_ms UInt64,
    lat Float64,
    lon Float64,
    start_lat Float64,
    start_lon Float64,
    end_lat Float64,
    end_lon Float64,
    speed_kmh Float64,
    speed_derived UInt8,
    heading_deg Nullable(Float64),
    distance_from_previous_m Float64,
    suspect_teleport UInt8,
    session_started_at_ms UInt64,
    route_name String,
    waypoint_count UInt32,
    seq Nullable(UInt64),
    received_at DateTime('UTC'),
    received_at_ms UInt64,
    ingested_at DateTime('UTC'),
    ingested_at_ms UInt64
)
ENGINE = ReplacingMergeTree(ingested_at_ms)
PARTITION BY toYYYYMM(event_time)
ORDER BY (session_id, event_time_ms, event_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.latest_positions
ENGINE = ReplacingMergeTree(event_time_ms)
ORDER BY session_id
AS SELECT
    session_id, vehicle_id, order_id, device_id, status,
    event_time, event_time_ms, seq, lat, lon, end_lat, end_lon, speed_kmh, heading_deg, route_name,
    session_started_at_ms
FROM {database}.session_movements;

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.sessions
ENGINE = AggregatingMergeTree()
ORDER BY session_id
AS SELECT
    session_id,
    anyState(vehicle_id) AS vehicle_id,
    anyState(order_id) AS order_id,
    anyState(device_id) AS device_id,
    minState(event_time_ms) AS started_at_ms,
    maxState(event_time_ms) AS last_event_at_ms,
    anyState(start_lat) AS start_lat,
    anyState(start_lon) AS start_lon,
    anyState(end_lat) AS end_lat,
    anyState(end_lon) AS end_lon,
    anyState(route_name) AS route_name,
    uniqExactState(event_id) AS events
FROM {database}.session_movements
GROUP BY session_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.orders
ENGINE = ReplacingMergeTree(completed_at_ms)
ORDER BY order_id
AS SELECT
    order_id, session_id, vehicle_id,
    event_time AS completed_at,
    event_time_ms AS completed_at_ms,
    session_started_at_ms,
    (event_time_ms - session_started_at_ms) / 1000 AS duration_s
FROM {database}.session_movements
WHERE status = 'completed';

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.vehicles
ENGINE = AggregatingMergeTree()
ORDER BY vehicle_id
AS SELECT
    vehicle_id,
    minState(event_time_ms) AS first_seen_ms,
    maxState(event_time_ms) AS last_seen_ms,
    uniqExactState(event_id) AS total_events
FROM {database}.session_movements
GROUP BY vehicle_id;
