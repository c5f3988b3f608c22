{{ config(materialized='view') }}

-- Alerts per day (UTC, by when each happened), vehicle and kind, from silver's alerts (one row per alert id).
-- A view: always current, and the alerts table is small next to the movements.
SELECT
    toDate(at) AS day,
    vehicle_id,
    kind,
    count() AS alerts,
    uniqExact(session_id) AS sessions
FROM {{ source('silver', 'alerts') }} FINAL
GROUP BY day, vehicle_id, kind
