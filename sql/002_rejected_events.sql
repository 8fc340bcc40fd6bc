-- rejected_events: what the streaming job read from Kafka but could not use, with the reason,
-- so nothing is lost silently (contract in DESIGN.md). One row per Kafka record, so a replay
-- adds nothing. Idempotent: safe to apply again.
CREATE TABLE IF NOT EXISTS rejected_events (
    topic         text        NOT NULL,
    partition     integer     NOT NULL,
    kafka_offset  bigint      NOT NULL,
    raw_value     text,
    reason        text        NOT NULL,
    seen_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, partition, kafka_offset)
);

CREATE INDEX IF NOT EXISTS rejected_events_seen_at_idx ON rejected_events (seen_at DESC);
