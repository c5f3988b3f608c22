-- Where the notification intake stands in the alerts topic: the next offset to read, per partition. Written after
-- an alert's outbox rows, so a crash between the two reads that alert again and the rows' ON CONFLICT adds
-- nothing. Kept here rather than in a Kafka consumer group: the intake assigns the partitions itself.
CREATE TABLE notify_positions (
    topic TEXT NOT NULL,
    partition_id INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic, partition_id)
);
