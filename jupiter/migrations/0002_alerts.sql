-- Silver layer, version 2: the alerts the detector raised (issue 19). Jupiter inserts each batch's alerts
-- before the batch's movements, after Kafka's `alerts` topic acknowledged them. An alert's id is derived from
-- what caused it, so a replay, a restart or a backfill inserts the same id again and it collapses here (read
-- with FINAL). Same ClickHouse 18.16 subset as 0001.

CREATE TABLE IF NOT EXISTS {database}.alerts
(
    alert_id String,
    kind String,
    session_id String,
    vehicle_id String,
    geofence_id String,
    trigger_event_id String,
    at DateTime('UTC'),
    at_ms UInt64,
    lat Float64,
    lon Float64,
    message String,
    detected_at_ms UInt64
)
ENGINE = ReplacingMergeTree(detected_at_ms)
PARTITION BY toYYYYMM(at)
ORDER BY alert_id
