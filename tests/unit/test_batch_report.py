"""The job's batch log: one line per micro-batch, in order, even when batches outrun the poll."""

import json
import logging

from streaming.progress import BatchReport, describe_batch


def progress(batch_id: int, rows: int = 10, timestamp: str | None = None, **extra) -> dict:
    return {
        "name": "aggregates",
        "batchId": batch_id,
        "timestamp": timestamp or f"2026-12-01T10:00:{batch_id:02d}.000Z",
        "numInputRows": rows,
        "processedRowsPerSecond": 20.0,
        "batchDuration": 500,
        "eventTime": {"max": "2026-12-01T10:00:00.000Z", "watermark": "2026-12-01T09:58:00.000Z"},
        "stateOperators": [{"numRowsTotal": 40, "numRowsDroppedByWatermark": 2}],
        **extra,
    }


class Reported:
    """What StreamingQuery.lastProgress / recentProgress hand back: an object with batchId, timestamp, json."""

    def __init__(self, value: dict):
        self.batchId, self.timestamp, self.json = value["batchId"], value["timestamp"], json.dumps(value)


class FakeQuery:
    def __init__(self):
        self.history: list[dict] = []

    @property
    def lastProgress(self):
        return Reported(self.history[-1]) if self.history else None

    @property
    def recentProgress(self):
        return [Reported(p) for p in self.history]


def logged(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "streaming.progress"]


def test_the_line_says_rows_speed_duration_written_late_state_lag_and_watermark():
    line = describe_batch(progress(3), rows_written=7, now=1796119205.5)  # 2026-12-01T10:00:05.5Z
    assert line == (
        "aggregates batch 3: 10 rows in (20 rows/s), 500 ms, 7 rows written, 2 dropped as late, "
        "40 ids in state, event-time lag 5.5 s, watermark 2026-12-01T09:58:00"
    )


def test_a_batch_without_event_time_has_no_lag():
    line = describe_batch(progress(0, rows=0, eventTime={}, stateOperators=[]), rows_written=0, now=0)
    assert (
        line == "aggregates batch 0: 0 rows in (20 rows/s), 500 ms, 0 rows written, 0 dropped as late, 0 ids in state"
    )


def test_each_batch_is_logged_once_in_order_with_its_rows_written(caplog, tmp_path):
    caplog.set_level(logging.INFO)
    query, log_file = FakeQuery(), tmp_path / "progress.jsonl"
    report = BatchReport(log_file)
    report.poll(query)  # nothing yet
    query.history.append(progress(0))
    report.written(0, 5)
    report.poll(query)
    report.poll(query)  # the same progress again: not a new line
    # Three batches finish between two polls: the two the last progress hides come from recentProgress.
    for batch_id in (1, 2, 3):
        report.written(batch_id, batch_id * 100)
        query.history.append(progress(batch_id))
    report.poll(query)
    # An idle query repeats its last batch id with a new timestamp: recorded, not logged as a batch.
    query.history.append(progress(3, rows=0, timestamp="2026-12-01T10:00:13.000Z"))
    report.poll(query)

    lines = logged(caplog)
    assert [line.split(":")[0] for line in lines] == [f"aggregates batch {n}" for n in range(4)]
    assert [line.split(", ")[2] for line in lines] == [
        "5 rows written",
        "100 rows written",
        "200 rows written",
        "300 rows written",
    ]
    recorded = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert [(p["batchId"], p["numInputRows"]) for p in recorded] == [(0, 10), (1, 10), (2, 10), (3, 10), (3, 0)]
