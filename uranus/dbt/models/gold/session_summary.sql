{{ config(materialized='incremental', unique_key='session_id', order_by='session_id',
          partition_by='toRelativeWeekNum(started_at) % 16') }}

-- One row per session. Status is the newest event's, or `abandoned` once Jupiter closed the session for
-- silence. Distance is the sum of the segments driven (points flagged as teleports excluded), not
-- the straight line from start to end; duration runs from the first to the newest event.
-- Incremental: a refresh recomputes only the sessions with rows ingested since the newest row it already saw
-- (minus `incremental_lookback_seconds`, for Jupiter instances whose clocks differ), found through the primary
-- key of session_movements. Partitioned by the week a session started, 16 weeks to a cycle (a bounded number of
-- partitions, whatever a device's clock says): the merge copies only the partitions of the sessions it
-- recomputes, so a refresh costs what changed, not the table's size. Weeks, not days: every read that is not
-- by session (the dashboard's search, the reports) opens each partition's part, and at 64 daily partitions
-- that cost more than the data (measured in mercury/README.md).
-- `search_text` is what the dashboard's session search looks in, lowercased once here instead of per search.
-- Stops: each stand-still (under `stop_below_kmh`) from its first slow point until the vehicle moves again, or
-- the session's last point; the stops report reads them (`ARRAY JOIN`) instead of every movement. Kept here, not
-- in a model of their own: both need the same session's points, and a second read of them (`FINAL`) costs about
-- twice what these columns add (uranus/README.md). Built from whole arrays, without lambdas that index a
-- captured array: those copy the array per element (quadratic; out of memory on long sessions).
WITH
    arrayMap(point -> tupleElement(point, 1), points) AS times,
    arrayMap(point -> tupleElement(point, 2) < {{ var('stop_below_kmh') }}, points) AS still,
    arrayPopBack(arrayPushFront(still, 0)) AS still_before,
    arrayMap((now, before) -> now AND NOT before, still, still_before) AS stop_starts,
    arrayMap((now, before) -> before AND NOT now, still, still_before) AS stop_ends
SELECT
    session_id, vehicle_id, order_id, route_name, started_at_ms, last_event_at_ms, started_at, last_event_at,
    duration_s, distance_km, avg_speed_kmh, status, events, ingested_at_ms, search_text,
    arrayFilter((value, starts) -> starts, times, stop_starts) AS stop_started_at_ms,
    -- A stand-still that lasts to the session's last point ends there.
    arrayResize(arrayFilter((value, ends) -> ends, times, stop_ends), length(stop_started_at_ms), times[-1])
        AS stop_ended_at_ms,
    arrayFilter((value, starts) -> starts, arrayMap(point -> tupleElement(point, 3), points), stop_starts) AS stop_lat,
    arrayFilter((value, starts) -> starts, arrayMap(point -> tupleElement(point, 4), points), stop_starts) AS stop_lon
FROM (
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
        -- Closed as abandoned by Jupiter's detector (an `abandoned` alert) unless it completed after all.
        if(argMax(status, event_time_ms) != 'completed'
               AND session_id IN (SELECT session_id FROM {{ source('silver', 'alerts') }} WHERE kind = 'abandoned'),
           'abandoned', argMax(status, event_time_ms)) AS status,
        count() AS events,
        max(ingested_at_ms) AS ingested_at_ms,
        lowerUTF8(concat(session_id, '\n', vehicle_id, '\n', order_id, '\n', route_name)) AS search_text,
        arraySort(groupArray((event_time_ms, speed_kmh, lat, lon))) AS points
    FROM {{ source('silver', 'session_movements') }} FINAL
    {% if is_incremental() %}
    WHERE session_id IN (
        SELECT session_id FROM {{ source('silver', 'session_movements') }}
        WHERE ingested_at_ms + {{ var('incremental_lookback_seconds') }} * 1000 > (SELECT max(ingested_at_ms) FROM {{ this }})
    )
    -- An abandonment comes with no new movement: its alert brings the session back into the refresh.
    OR session_id IN (
        SELECT session_id FROM {{ source('silver', 'alerts') }}
        WHERE kind = 'abandoned'
          AND detected_at_ms + {{ var('incremental_lookback_seconds') }} * 1000 > (SELECT max(ingested_at_ms) FROM {{ this }})
    )
    {% endif %}
    GROUP BY session_id
)
