{{ config(materialized='incremental', unique_key='day', order_by='(day, vehicle_id)',
          partition_by='toRelativeWeekNum(day) % 16') }}

-- One row per day (UTC, by trip start) and vehicle: trips started, of which completed, their distance and summed
-- duration. The dashboard's daily report reads these rows instead of grouping a range of session_summary per
-- request (half the ClickHouse time for a week of every vehicle; mercury/README.md).
-- Incremental by day: a refresh regroups every day a refreshed session spans, from its start to its newest event.
-- A late earlier event moves a session's start back, but never past its newest event, so the day the session left
-- is regrouped too. Each regrouped day also gets a row with an empty `vehicle_id` and no trips, so a day whose
-- sessions all moved away is replaced by it instead of keeping their old rows (readers skip `trips = 0`). The span
-- is cut at 31 days: only a device with a wrong clock stretches a session further, and regrouping years of days per
-- refresh for it would cost more than the row it might leave behind.
{% set regrouped_days %}
-- The days the sessions refreshed since the newest row seen span (see above).
SELECT DISTINCT toDate(started_at) + arrayJoin(range(toUInt64(
           least(toRelativeDayNum(last_event_at) - toRelativeDayNum(started_at), 31) + 1))) AS regrouped
FROM {{ ref('session_summary') }}
WHERE ingested_at_ms + {{ var('incremental_lookback_seconds') }} * 1000 > (SELECT max(ingested_at_ms) FROM {{ this }})
{% endset %}

SELECT day, vehicle_id, trips, completed, distance_km, driving_s, ingested_at_ms
FROM (
    SELECT
        trip_day AS day,
        vehicle AS vehicle_id,
        count() AS trips,
        toUInt64(countIf(trip_status = 'completed')) AS completed,
        toFloat64(sum(trip_km)) AS distance_km,
        toFloat64(sum(trip_s)) AS driving_s,
        toUInt64(max(session_ingested_at_ms)) AS ingested_at_ms
    -- Renamed first: ClickHouse 18.16 substitutes an output alias equal to a column name into the expressions
    -- that use the column.
    FROM (
        SELECT toDate(started_at) AS trip_day, vehicle_id AS vehicle, status AS trip_status,
               distance_km AS trip_km, duration_s AS trip_s, ingested_at_ms AS session_ingested_at_ms
        FROM {{ ref('session_summary') }}
        {% if is_incremental() %}
        WHERE toDate(started_at) IN ({{ regrouped_days }})
        {% endif %}
    )
    GROUP BY trip_day, vehicle
    {% if is_incremental() %}
    UNION ALL
    SELECT regrouped AS day, '' AS vehicle_id, toUInt64(0) AS trips, toUInt64(0) AS completed,
           toFloat64(0) AS distance_km, toFloat64(0) AS driving_s, toUInt64(0) AS ingested_at_ms
    FROM ({{ regrouped_days }})
    {% endif %}
)
