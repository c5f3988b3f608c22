-- Acknowledged alerts: the same table as migrations/sqlite/0005_alert_acks.sql, in PostgreSQL's types.
CREATE TABLE alert_acks (
    alert_id TEXT PRIMARY KEY,
    alert_at_ms BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    acknowledged_at_ms BIGINT NOT NULL
);
CREATE INDEX alert_acks_at ON alert_acks (alert_at_ms);
