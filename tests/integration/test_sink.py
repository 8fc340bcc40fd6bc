"""The Postgres sink against a real database: one transaction per batch, replays skipped, windows
folded, closed windows' state deleted, transient failures retried, permanent ones reported."""

import math
import statistics

import pytest

from streaming.sink import Batch, BatchRows, PostgresSink, SinkError

REJECT = ("t", 0, 41, "raw", "not a valid JSON object")
MINUTE_MS = 60_000
START_MS = 1_795_168_800_000  # 2026-11-20 10:00:00 UTC


def partial(start_ms, prices, first_id):
    """A window's partial aggregate (PARTIAL_COLUMNS) of events one second apart at these prices, each of
    volume 2, as a batch brings it: the sum of squared deviations taken from the partial's own mean."""
    ids = [f"{first_id}-{n:02d}" for n in range(len(prices))]
    at = [start_ms + 1_000 * (n + 1) for n in range(len(prices))]
    mean = math.fsum(prices) / len(prices)
    m2 = math.fsum((p - mean) ** 2 for p in prices)
    return (
        "AAPL",
        start_ms,
        start_ms + MINUTE_MS,
        at[0],
        ids[0],
        prices[0],
        at[-1],
        ids[-1],
        prices[-1],
        max(prices),
        min(prices),
        len(prices),
        math.fsum(prices),
        m2,
        2.0 * len(prices),
        2.0 * math.fsum(prices),
    )


def rejects(db):
    with db.cursor() as cursor:
        cursor.execute("SELECT kafka_offset, reason FROM rejected_events ORDER BY kafka_offset")
        return cursor.fetchall()


def window(db):
    with db.cursor() as cursor:
        cursor.execute("SELECT event_count, avg_price, volume, vwap FROM stock_aggregates ORDER BY window_start")
        return cursor.fetchall()


def test_a_replayed_batch_changes_nothing(stack, db):
    sink = PostgresSink(stack.database_url)
    batch = Batch("query-1", "aggregates", 7)
    assert sink.write(batch, BatchRows([partial(START_MS, [10.0], "a")], [REJECT])) == 2
    # What a replay after a crash may carry: the same batch, perhaps with other rows.
    again = BatchRows(
        [partial(START_MS, [10.0], "a"), partial(START_MS + MINUTE_MS, [12.0], "b")], [REJECT, ("t", 0, 42, "x", "y")]
    )
    assert sink.write(batch, again) == 0
    assert rejects(db) == [(41, "not a valid JSON object")]
    assert window(db) == [(1, 10.0, 2.0, 10.0)]
    with db.cursor() as cursor:
        cursor.execute("SELECT query_name, rows_written FROM streaming_batches WHERE query_id = 'query-1'")
        assert cursor.fetchall() == [("aggregates", 2)]
    # The next batch of the same query folds into the window; a new query (checkpoint) starts it afresh.
    assert sink.write(Batch("query-1", "aggregates", 8), BatchRows([partial(START_MS, [13.0, 13.0], "c")], [])) == 1
    assert window(db) == [(3, 12.0, 6.0, 12.0)]
    assert sink.write(Batch("query-2", "aggregates", 7), again) == 3  # two windows and the new reject
    assert window(db) == [(1, 10.0, 2.0, 10.0), (1, 12.0, 2.0, 12.0)]
    sink.close()


def test_the_state_of_windows_the_watermark_closed_is_deleted(stack, db):
    sink = PostgresSink(stack.database_url)
    older, newer = partial(START_MS, [10.0], "a"), partial(START_MS + MINUTE_MS, [11.0], "b")
    sink.write(Batch("query-4", "aggregates", 0), BatchRows([older, newer], [], closed_before_ms=START_MS + MINUTE_MS))
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT window_start, window_end - window_start FROM stock_window_state WHERE query_id = 'query-4'"
        )
        ((start, size),) = cursor.fetchall()
        assert (start.timestamp() * 1000, size.total_seconds()) == (START_MS + MINUTE_MS, 60.0)
        cursor.execute("SELECT count(*) FROM stock_aggregates")
        assert cursor.fetchone()[0] == 2  # the closed window's row stays, final
    # A batch without rows (its events all copies or late) closes windows too, and stays out of the ledger.
    assert (
        sink.write(Batch("query-4", "aggregates", 1), BatchRows([], [], closed_before_ms=START_MS + 2 * MINUTE_MS)) == 0
    )
    with db.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM stock_window_state WHERE query_id = 'query-4'")
        assert cursor.fetchone()[0] == 0
        cursor.execute("SELECT batch_id FROM streaming_batches WHERE query_id = 'query-4'")
        assert cursor.fetchall() == [(0,)]
    sink.close()


def test_an_unreachable_database_is_retried_then_reported():
    waits = []
    sink = PostgresSink("postgresql://nobody:secret-pw@127.0.0.1:1/none", sleep=waits.append)
    with pytest.raises(SinkError, match="Postgres unreachable after 6 tries") as error:
        sink.write(Batch("q", "aggregates", 0), BatchRows([], [REJECT]))
    assert waits == [1.0, 2.0, 4.0, 8.0, 15.0]
    assert "secret-pw" not in str(error.value)


def test_a_batch_postgres_refuses_fails_at_once_and_writes_nothing(stack, db):
    waits = []
    sink = PostgresSink(stack.database_url, sleep=waits.append)
    bad = BatchRows([partial(START_MS, [10.0], "a")], [("t", "not-a-partition", 1, "raw", "reason")])
    with pytest.raises(SinkError, match="Postgres refused the batch"):
        sink.write(Batch("query-3", "aggregates", 0), bad)
    assert waits == []
    with db.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM streaming_batches WHERE query_id = 'query-3'")
        assert cursor.fetchone()[0] == 0  # the ledger row rolled back with the batch
        cursor.execute("SELECT count(*) FROM stock_aggregates")
        assert cursor.fetchone()[0] == 0  # and the window with it


def test_the_standard_deviation_keeps_its_digits_when_prices_are_close(stack, db):
    # Prices 50,000 ± 0.03: sums of squares (~2.5e9 each) cancel down to ~1e-3, which leaves a formula over
    # them (or a merge that drops the difference of the means) with few correct digits.
    batches = [
        [50000.01, 49999.99, 50000.0],
        [50000.02, 50000.03],
        [49999.97],
        [50000.0, 50000.03, 49999.99, 50000.01],
    ]
    sink = PostgresSink(stack.database_url)
    for batch_id, prices in enumerate(batches):
        sink.write(Batch("query-5", "aggregates", batch_id), BatchRows([partial(START_MS, prices, f"b{batch_id}")], []))
    sink.close()
    every_price = [p for prices in batches for p in prices]
    with db.cursor() as cursor:
        cursor.execute("SELECT event_count, avg_price, price_stddev FROM stock_aggregates")
        ((count, mean, stddev),) = cursor.fetchall()
    assert count == len(every_price) == 10
    assert math.isclose(mean, statistics.fmean(every_price), rel_tol=1e-12)
    assert math.isclose(stddev, statistics.stdev(every_price), rel_tol=1e-7), (stddev, statistics.stdev(every_price))


def test_window_state_left_by_an_earlier_checkpoint_is_deleted(stack, db):
    earlier = PostgresSink(stack.database_url)
    earlier.write(Batch("query-earlier", "aggregates", 0), BatchRows([partial(START_MS, [10.0], "a")], []))
    earlier.close()  # that job stopped, its checkpoint deleted
    running = PostgresSink(stack.database_url)  # another job, on another checkpoint, still running
    running.write(Batch("query-running", "aggregates", 0), BatchRows([partial(START_MS, [11.0], "b")], []))
    recent = PostgresSink(stack.database_url)  # a job that stopped (or lost Postgres) moments ago
    recent.write(Batch("query-recent", "aggregates", 0), BatchRows([partial(START_MS, [12.0], "c")], []))
    recent.close()
    with db.cursor() as cursor:
        cursor.execute(
            "UPDATE streaming_batches SET committed_at = now() - interval '1 hour' "
            "WHERE query_id IN ('query-earlier', 'query-running')"
        )
    sink = PostgresSink(stack.database_url)
    sink.write(Batch("query-new", "aggregates", 0), BatchRows([partial(START_MS + MINUTE_MS, [13.0], "d")], []))
    with db.cursor() as cursor:
        cursor.execute("SELECT DISTINCT query_id FROM stock_window_state ORDER BY 1")
        assert [q for (q,) in cursor.fetchall()] == ["query-new", "query-recent", "query-running"]
    # The running job loses its connection (Postgres restarted), then reads only copies of events seen
    # before: its batch without rows reconnects and takes the lock again.
    running.close()
    assert running.write(Batch("query-running", "aggregates", 1), BatchRows([], [], closed_before_ms=0)) == 0
    with db.cursor() as cursor:
        cursor.execute("UPDATE streaming_batches SET committed_at = now() - interval '1 hour'")
    sink.close()
    for batch_id, sink_of_a_job_gone in ((1, running), (2, None)):
        later = PostgresSink(stack.database_url)
        later.write(
            Batch("query-new", "aggregates", batch_id),
            BatchRows([partial(START_MS + 2 * MINUTE_MS, [14.0], f"e{batch_id}")], []),
        )
        later.close()
        with db.cursor() as cursor:
            cursor.execute("SELECT DISTINCT query_id FROM stock_window_state ORDER BY 1")
            assert [q for (q,) in cursor.fetchall()] == ["query-new"] + (
                ["query-running"] if sink_of_a_job_gone else []
            )
        if sink_of_a_job_gone:
            sink_of_a_job_gone.close()  # the job stops: its lock goes with its connection
    with db.cursor() as cursor:
        cursor.execute("SELECT event_count FROM stock_aggregates ORDER BY window_start")
        assert [n for (n,) in cursor.fetchall()] == [1, 1, 2]  # the windows' rows stay
