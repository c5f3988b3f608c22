{{ config(materialized='table', order_by='hour') }}

-- Sessions seen and events per hour of event time (the dashboard's peak-hour chart groups by hour_of_day).
SELECT
    toStartOfHour(event_time) AS hour,
    toHour(toStartOfHour(event_time)) AS hour_of_day,
    uniqExact(session_id) AS sessions,
    count() AS events
FROM {{ source('silver', 'session_movements') }} FINAL
GROUP BY hour
