-- Alert notifications: the same tables as migrations/sqlite/0006_notifications.sql, in PostgreSQL's types.
CREATE TABLE webhooks (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    url TEXT NOT NULL,
    -- Signs every body (HMAC-SHA256); shown once when the webhook is created.
    secret TEXT NOT NULL,
    -- Comma-separated alert kinds; empty: every kind.
    kinds TEXT NOT NULL DEFAULT '',
    created_by BIGINT NOT NULL,
    created_at_ms BIGINT NOT NULL
);

CREATE TABLE email_alerts (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    PRIMARY KEY (user_id, kind)
);

CREATE TABLE deliveries (
    alert_id TEXT NOT NULL,
    -- `webhook:{id}` or `email:{user id}`.
    channel TEXT NOT NULL,
    kind TEXT NOT NULL,
    vehicle_id TEXT NOT NULL,
    alert_at_ms BIGINT NOT NULL,
    -- The alert as it came from the topic: what a webhook receives, byte for byte, on every attempt.
    payload TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts BIGINT NOT NULL DEFAULT 0,
    -- When a pending delivery is due; while one is being sent, the end of its lease.
    next_attempt_at_ms BIGINT NOT NULL,
    last_error TEXT NOT NULL DEFAULT '',
    created_at_ms BIGINT NOT NULL,
    delivered_at_ms BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (alert_id, channel)
);
CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at_ms);
CREATE INDEX deliveries_created ON deliveries (created_at_ms);
