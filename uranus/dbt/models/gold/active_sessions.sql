{{ config(materialized='view') }}

-- Sessions not completed nor closed as abandoned (Jupiter's `abandoned` alert), as of now: where each vehicle is, how far it still has to go (straight line to the
-- drop-off), how long it has been under way, its average speed so far and the ETA at that speed. A session silent
-- for longer than `stale_after_seconds` has status `stale`. A view, so "now" is the time of the query.
-- The joined subqueries are named: ClickHouse 21+ refuses unnamed ones (`joined_subquery_requires_alias`).
SELECT
    session_id,
    vehicle_id,
    order_id,
    if(event_time_ms + {{ var('stale_after_seconds') }} * 1000 < now_ms, 'stale', status) AS status,
    session_started_at_ms AS started_at_ms,
    event_time_ms AS last_update_ms,
    lat,
    lon,
    end_lat,
    end_lon,
    {{ haversine_km('lat', 'lon', 'end_lat', 'end_lon') }} AS distance_to_destination_km,
    (now_ms - session_started_at_ms) / 1000 AS elapsed_s,
    distance_km AS distance_travelled_km,
    if(event_time_ms > session_started_at_ms,
       distance_km / ((event_time_ms - session_started_at_ms) / 3600000), 0) AS avg_speed_kmh,
    if(avg_speed_kmh > 0, toUInt64(distance_to_destination_km / avg_speed_kmh * 3600), NULL) AS eta_s
FROM
(
    SELECT *, toUInt64(toUnixTimestamp(now())) * 1000 AS now_ms
    FROM {{ source('silver', 'latest_positions') }} FINAL
    WHERE status != 'completed'
      AND session_id NOT IN (SELECT session_id FROM {{ source('silver', 'alerts') }} WHERE kind = 'abandoned')
) AS positions
ANY LEFT JOIN
(
    SELECT session_id, distance_km FROM {{ ref('session_summary') }}
) AS summaries USING session_id
