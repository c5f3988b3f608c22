{{ config(materialized='table', order_by='session_id') }}

-- One row per session. Distance is the sum of the segments driven (points flagged as teleports excluded), not
-- the straight line from start to end; duration runs from the first to the newest event.
SELECT
    session_id,
    any(vehicle_id) AS vehicle_id,
    any(order_id) AS order_id,
    any(route_name) AS route_name,
    min(event_time_ms) AS started_at_ms,
    max(event_time_ms) AS last_event_at_ms,
    toDateTime(intDiv(min(event_time_ms), 1000), 'UTC') AS started_at,
    toDateTime(intDiv(max(event_time_ms), 1000), 'UTC') AS last_event_at,
    (max(event_time_ms) - min(event_time_ms)) / 1000 AS duration_s,
    sumIf(distance_from_previous_m, suspect_teleport = 0) / 1000 AS distance_km,
    if(duration_s > 0, distance_km / (duration_s / 3600), 0) AS avg_speed_kmh,
    argMax(status, event_time_ms) AS status,
    count() AS events
FROM {{ source('silver', 'session_movements') }} FINAL
GROUP BY session_id
