{{ config(materialized='table', order_by='vehicle_id') }}

-- One row per vehicle. Active: it has a session that has not completed and spoke within `stale_after_seconds`.
SELECT
    vehicle_id,
    min(started_at_ms) AS first_seen_ms,
    max(last_event_at_ms) AS last_update_ms,
    toDateTime(intDiv(max(last_event_at_ms), 1000), 'UTC') AS last_update,
    max(status != 'completed'
        AND last_event_at_ms + {{ var('stale_after_seconds') }} * 1000 >= toUInt64(toUnixTimestamp(now())) * 1000)
        AS active,
    count() AS trips,
    countIf(status = 'completed') AS completed_trips,
    sum(distance_km) AS total_km,
    if(sum(duration_s) > 0, sum(distance_km) / (sum(duration_s) / 3600), 0) AS avg_speed_kmh
FROM {{ ref('session_summary') }}
GROUP BY vehicle_id
