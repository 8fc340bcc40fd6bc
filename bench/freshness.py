"""End-to-end freshness, with the real producer and the real streaming job: from the producer publishing
an event (ingested_at) to the first poll of Postgres that sees it in its window's row; and how far the
newest event in the table lags the clock (now - max(last_event_at)), sampled every 100 ms."""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from pathlib import Path

import psycopg2

from bench.spark_runs import start_job, wait_started
from bench.stack import BenchStack, Watched
from bench.stats import latency_percentiles
from bench.window_state import EPOCH
from common.settings import libpq_url
from devstack.process import wait_until

MINUTE_MS = 60_000
ROW_VERSIONS = """
SELECT symbol, (extract(epoch FROM window_start) * 1000)::bigint,
       (extract(epoch FROM last_event_at) * 1000)::bigint, updated_at
FROM stock_aggregates WHERE window_end - window_start = interval '1 minute' AND updated_at > %s
"""


class RowWatcher:
    """Polls the 1-minute rows every 50 ms and keeps every version seen: when a row was first seen
    covering events up to its last_event_at. Seen, not updated_at: updated_at is the writing
    transaction's start, before its commit; the poll's time is at most one poll after the commit."""

    def __init__(self, database_url: str):
        self._dsn = libpq_url(database_url)
        self.versions: dict[tuple, list[tuple[int, float]]] = defaultdict(list)
        self.staleness: list[tuple[float, float]] = []  # (poll time, seconds since the newest event seen)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _poll(self) -> None:
        connection = psycopg2.connect(self._dsn)
        connection.autocommit = True
        since, newest_ms, polls = EPOCH, None, 0
        try:
            while not self._stop.wait(0.05):
                with connection.cursor() as cursor:
                    cursor.execute(ROW_VERSIONS, (since,))
                    rows = cursor.fetchall()
                seen = time.time()
                polls += 1
                with self._lock:
                    for symbol, start_ms, last_ms, updated_at in rows:
                        self.versions[(symbol, start_ms)].append((last_ms, seen))
                        since = max(since, updated_at)
                        newest_ms = max(newest_ms or 0, last_ms)
                    if newest_ms is not None and polls % 2 == 0:  # every other 50 ms poll: every 100 ms
                        self.staleness.append((seen, seen - newest_ms / 1000))
        finally:
            connection.close()

    def snapshot(self) -> dict:
        """A copy of the versions seen so far."""
        with self._lock:
            return {key: list(v) for key, v in self.versions.items()}


def event_freshness(events: list[dict], versions: dict) -> tuple[list[float], int]:
    """Seconds from each event's ingested_at to the first row version covering it; and how many
    events no version covered. A symbol's events are in order on one partition, so a row whose
    last_event_at reached an event's time includes that event."""
    ordered = {key: sorted(v, key=lambda x: x[1]) for key, v in versions.items()}
    latencies, missing = [], 0
    for event in events:
        rows = ordered.get((event["symbol"], event["event_time"] - event["event_time"] % MINUTE_MS), [])
        covering = [updated for last_ms, updated in rows if last_ms >= event["event_time"]]
        if covering:
            latencies.append(covering[0] - event["ingested_at"] / 1000)
        else:
            missing += 1
    return latencies, missing


def measure_freshness(
    stack: BenchStack, work: Path, name: str, producer_args: list[str], seconds: float, warmup_seconds: float
) -> dict:
    """Run producer + job (with the job's default trigger); once the first rows are written, let the load
    run `warmup_seconds` (the JVM compiles its hot code over the first few dozen batches), then measure
    for `seconds`: the freshness percentiles of every event published in that time, and the staleness."""
    topic = stack.new_topic(name)
    job, _ = start_job(stack, topic, work, name)
    record = work / f"{name}-published.jsonl"
    producer = None
    try:
        wait_started(job)
        with RowWatcher(stack.database_url) as watcher:
            producer = Watched(
                "producer",
                ["--source", "synthetic", "--record", str(record), *producer_args],
                stack.pipeline_env(topic, work),
                work / f"{name}-producer.log",
            )
            wait_until(lambda: watcher.snapshot(), 300, "the first rows")
            time.sleep(warmup_seconds)  # the load runs on meanwhile
            measured_from = time.time() * 1000
            time.sleep(seconds)  # the measurement's length: load runs for this long
            producer.stop()
            events = [e for e in map(json.loads, record.read_text().splitlines()) if e["ingested_at"] >= measured_from]
            last_of_symbol = list({e["symbol"]: e for e in events}.values())
            wait_until(
                lambda: event_freshness(last_of_symbol, watcher.snapshot())[1] == 0,
                120,
                "rows covering every symbol's last event",
            )
    finally:
        if producer is not None:
            producer.stop()
        job.stop()
    latencies, missing = event_freshness(events, watcher.snapshot())
    measured_until = measured_from / 1000 + seconds
    staleness = [lag for seen, lag in watcher.staleness if measured_from / 1000 <= seen <= measured_until]
    return {
        **latency_percentiles(latencies),
        "missing": missing,
        "events": len(events),
        "staleness": latency_percentiles(staleness),
        "warmup_seconds": warmup_seconds,
        "offered_events_per_second": len(events) / seconds,
        "streaming_peak_rss_bytes": job.peak_rss,
        "producer_peak_rss_bytes": producer.peak_rss,
    }
