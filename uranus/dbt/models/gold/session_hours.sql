{{ config(materialized='incremental', unique_key='session_id', order_by='(session_id, hour)',
          partition_by='toRelativeDayNum(hour) % 64') }}

-- Events per session and hour of event time: the building block of hourly_activity, kept incrementally like
-- session_summary (only sessions with newly ingested rows are recomputed, and only the partitions of their days
-- are copied).
SELECT
    session_id,
    toStartOfHour(event_time) AS hour,
    count() AS events,
    max(ingested_at_ms) AS ingested_at_ms
FROM {{ source('silver', 'session_movements') }} FINAL
{% if is_incremental() %}
WHERE session_id IN (
    SELECT session_id FROM {{ source('silver', 'session_movements') }}
    WHERE ingested_at_ms + {{ var('incremental_lookback_seconds') }} * 1000 > (SELECT max(ingested_at_ms) FROM {{ this }})
)
{% endif %}
GROUP BY session_id, hour
