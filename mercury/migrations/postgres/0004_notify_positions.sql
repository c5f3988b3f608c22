-- Where the notification intake stands in the alerts topic: the same table as
-- migrations/sqlite/0007_notify_positions.sql, in PostgreSQL's types.
CREATE TABLE notify_positions (
    topic TEXT NOT NULL,
    partition_id INTEGER NOT NULL,
    next_offset BIGINT NOT NULL,
    PRIMARY KEY (topic, partition_id)
);
