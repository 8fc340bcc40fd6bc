-- streaming_batches: every micro-batch the streaming job wrote, in the same transaction as its
-- rows. A batch replayed after a crash (written, but not yet marked done in the checkpoint) is
-- found here and skipped, so it changes nothing. query_id is the id Spark keeps in the
-- checkpoint: a new checkpoint starts a new series of batch ids.
-- Idempotent: safe to apply again.
CREATE TABLE IF NOT EXISTS streaming_batches (
    query_id      text        NOT NULL,
    query_name    text        NOT NULL,
    batch_id      bigint      NOT NULL,
    rows_written  bigint      NOT NULL,
    committed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (query_id, batch_id)
);
