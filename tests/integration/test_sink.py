"""The Postgres sink against a real database: one transaction per batch, replays skipped,
transient failures retried, permanent ones reported."""

import pytest

from streaming.sink import INSERT_REJECTS, REJECT_COLUMNS, Batch, PostgresSink, SinkError

REJECT = ("t", 0, 41, "raw", "not a valid JSON object")


def rejects(db):
    with db.cursor() as cursor:
        cursor.execute("SELECT kafka_offset, reason FROM rejected_events ORDER BY kafka_offset")
        return cursor.fetchall()


def test_a_replayed_batch_changes_nothing(stack, db):
    sink = PostgresSink(stack.database_url)
    batch = Batch("query-1", "rejects", 7)
    assert sink.write(batch, "rejects_batch", REJECT_COLUMNS, [REJECT], INSERT_REJECTS) == 1
    again = [REJECT, ("t", 0, 42, "raw", "different")]  # what a replay after a crash may carry
    assert sink.write(batch, "rejects_batch", REJECT_COLUMNS, again, INSERT_REJECTS) == 0
    assert rejects(db) == [(41, "not a valid JSON object")]
    with db.cursor() as cursor:
        cursor.execute("SELECT query_name, rows_written FROM streaming_batches WHERE query_id = 'query-1'")
        assert cursor.fetchall() == [("rejects", 1)]
    assert sink.write(Batch("query-2", "rejects", 7), "rejects_batch", REJECT_COLUMNS, again, INSERT_REJECTS) == 1
    sink.close()


def test_an_unreachable_database_is_retried_then_reported():
    waits = []
    sink = PostgresSink("postgresql://nobody:secret-pw@127.0.0.1:1/none", sleep=waits.append)
    with pytest.raises(SinkError, match="Postgres unreachable after 6 tries") as error:
        sink.write(Batch("q", "rejects", 0), "rejects_batch", REJECT_COLUMNS, [REJECT], INSERT_REJECTS)
    assert waits == [1.0, 2.0, 4.0, 8.0, 15.0]
    assert "secret-pw" not in str(error.value)


def test_a_batch_postgres_refuses_fails_at_once_and_writes_nothing(stack, db):
    waits = []
    sink = PostgresSink(stack.database_url, sleep=waits.append)
    bad = [("t", "not-a-partition", 1, "raw", "reason")]
    with pytest.raises(SinkError, match="Postgres refused the batch"):
        sink.write(Batch("query-3", "rejects", 0), "rejects_batch", REJECT_COLUMNS, bad, INSERT_REJECTS)
    assert waits == []
    with db.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM streaming_batches WHERE query_id = 'query-3'")
        assert cursor.fetchone()[0] == 0  # the ledger row rolled back with the batch
