{{ config(materialized='table', order_by='(period, period_start)') }}

-- Completed deliveries per day, ISO week (starting Monday) and month, by completion time. On time: completed
-- within `on_time_minutes` of the session's start.
SELECT
    period,
    period_start,
    count() AS sessions_completed,
    avg(duration_s) AS avg_duration_s,
    sum(distance_km) AS total_distance_km,
    if(sum(duration_s) > 0, sum(distance_km) / (sum(duration_s) / 3600), 0) AS avg_speed_kmh,
    countIf(duration_s <= {{ var('on_time_minutes') }} * 60) / count() AS on_time_rate
FROM
(
    SELECT 'day' AS period, toDate(last_event_at) AS period_start, duration_s, distance_km
    FROM {{ ref('session_summary') }} WHERE status = 'completed'
    UNION ALL
    SELECT 'week' AS period, toMonday(toDate(last_event_at)) AS period_start, duration_s, distance_km
    FROM {{ ref('session_summary') }} WHERE status = 'completed'
    UNION ALL
    SELECT 'month' AS period, toStartOfMonth(toDate(last_event_at)) AS period_start, duration_s, distance_km
    FROM {{ ref('session_summary') }} WHERE status = 'completed'
)
GROUP BY period, period_start
