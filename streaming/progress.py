"""The job's account of its micro-batches: one log line per batch, and optionally each batch's query
progress as a JSON line. Read by polling the query, not by a Python StreamingQueryListener: pyspark
converts every listener event field by field over py4j, which cost a live batch about 250 ms of CPU."""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime
from pathlib import Path

from pyspark.sql.streaming import StreamingQuery

log = logging.getLogger(__name__)


def describe_batch(progress: dict, rows_written: int, now: float) -> str:
    """The log line of one micro-batch, from its query progress (the JSON Spark reports)."""
    operators = progress.get("stateOperators") or []
    dropped = sum(op.get("numRowsDroppedByWatermark", 0) for op in operators)
    state_rows = sum(op.get("numRowsTotal", 0) for op in operators)
    event_time = progress.get("eventTime") or {}
    lag = ""
    if event_time.get("max"):
        newest = datetime.fromisoformat(event_time["max"].replace("Z", "+00:00"))
        lag = f", event-time lag {now - newest.timestamp():.1f} s"
    if event_time.get("watermark"):
        lag += f", watermark {event_time['watermark'][:19]}"
    return (
        f"{progress['name']} batch {progress['batchId']}: {progress['numInputRows']} rows in "
        f"({progress.get('processedRowsPerSecond') or 0:.0f} rows/s), {progress.get('batchDuration', 0)} ms, "
        f"{rows_written} rows written, {dropped} dropped as late, {state_rows} ids in state{lag}"
    )


class BatchReport:
    """Logs each micro-batch once, in order, with the rows the sink wrote for it."""

    def __init__(self, progress_log: Path | None = None):
        self._rows_written: dict[int, int] = {}
        self._last_seen: tuple[int, str] | None = None  # (batchId, timestamp) of the newest progress handled
        self._progress_log = progress_log

    def written(self, batch_id: int, rows: int) -> None:
        """Called by the sink's batch function: the rows written for a batch, reported with its progress."""
        self._rows_written[batch_id] = rows

    def poll(self, query: StreamingQuery) -> None:
        """Handle the progress reported since the last poll (cheap when there is none)."""
        last = query.lastProgress
        if last is None or (last.batchId, last.timestamp) == self._last_seen:
            return
        newest = json.loads(last.json)
        missed = self._last_seen is not None and newest["batchId"] > self._last_seen[0] + 1
        # Batches quicker than the poll: the query keeps the recent ones (numRecentProgressUpdates).
        pending = [json.loads(p.json) for p in query.recentProgress] if missed else [newest]
        for progress in pending:
            key = (progress["batchId"], progress["timestamp"])
            if self._last_seen is not None and key <= self._last_seen:
                continue
            self._handle(progress, key)

    def _handle(self, progress: dict, key: tuple[int, str]) -> None:
        is_new_batch = self._last_seen is None or key[0] != self._last_seen[0]
        self._last_seen = key
        if self._progress_log is not None:
            with self._progress_log.open("a", encoding="utf-8") as out:
                out.write(json.dumps(progress) + "\n")
        # An idle query repeats its last batch's id every 10 s with 0 rows: not a batch of its own.
        if is_new_batch:
            rows = self._rows_written.pop(progress["batchId"], 0)
            log.info("%s", describe_batch(progress, rows, time.time()))
