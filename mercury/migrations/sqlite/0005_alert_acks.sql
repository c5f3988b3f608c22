-- Acknowledged alerts (the alerts themselves are Jupiter's, in ClickHouse's silver `alerts`): one row per alert a
-- dispatcher acknowledged, with the alert's own time so a page of a time range finds its acknowledgements.
CREATE TABLE alert_acks (
    alert_id TEXT PRIMARY KEY,
    alert_at_ms INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    acknowledged_at_ms INTEGER NOT NULL
);
CREATE INDEX alert_acks_at ON alert_acks (alert_at_ms);
