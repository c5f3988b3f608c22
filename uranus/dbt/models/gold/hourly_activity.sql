{{ config(materialized='table', order_by='hour') }}

-- Sessions seen and events per hour of event time (the dashboard's peak-hour chart groups by hour_of_day).
SELECT
    hour,
    toHour(hour) AS hour_of_day,
    count() AS sessions,
    sum(events) AS events
FROM {{ ref('session_hours') }}
GROUP BY hour
