"""The live page's cost on the server: one page poll (its one request, /api/snapshot) answered fresh
just after a write and from the shared cache, at several history lengths; then hundreds of viewers
polling as the page does while batches commit."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import psycopg2
import requests

from bench.history import extract_seven_request_webapp
from bench.stack import BenchStack, Watched
from bench.stats import latency_percentiles
from bench.webapi import fill_table, start_webapp
from common.settings import REPO_ROOT, libpq_url
from devstack.process import StackError
from webapp.cache import STALE_SECONDS

log = logging.getLogger(__name__)

POLL_PATH = "/api/snapshot?window=1m&limit=200&symbol=AAPL"  # the page's poll of AAPL's 1-minute candles
# The same poll of the page before the snapshot: seven requests, the chart's spikes since its first candle.
SEVEN_REQUESTS = (
    "/api/aggregates?symbol=AAPL&window=1m&limit=200",
    "/api/latest?window=1m",
    "/api/indicators?symbol=AAPL&window=1m&limit=200",
    "/api/spikes?symbol=AAPL&window=1m&limit=200&since={since}",
    "/api/quality",
    "/api/movers?window=1m",
    "/api/spikes?window=1m&limit=50",
)
SERVER_TIMING = re.compile(r"compute;dur=([\d.]+)")
BATCH_SECONDS = 0.5  # how often the simulated streaming job commits during the viewers' run

# A batch as the sink writes it: the newest candle of each symbol and size changes (the triggers then
# refresh their EMAs and bump the data version), in one transaction.
TOUCH_NEWEST = """
UPDATE stock_aggregates a
SET close_price = a.close_price + 0.01, high_price = greatest(a.high_price, a.close_price + 0.01),
    event_count = a.event_count + 1, updated_at = now()
FROM (SELECT symbol, max(window_start) AS window_start, window_end - window_start AS size
      FROM stock_aggregates WHERE window_start > now() - interval '10 minutes'
      GROUP BY symbol, window_end - window_start) newest
WHERE a.symbol = newest.symbol AND a.window_start = newest.window_start
  AND a.window_end - a.window_start = newest.size
"""


class BatchWriter:
    """Commits batches to stock_aggregates, one on demand or one every few seconds in a thread."""

    def __init__(self, database_url: str):
        self._connection = psycopg2.connect(libpq_url(database_url))
        self.batches = 0

    def write_one(self) -> None:
        with self._connection, self._connection.cursor() as cursor:
            cursor.execute(TOUCH_NEWEST)
        self.batches += 1

    @contextmanager
    def every(self, seconds: float):
        """A batch every `seconds` while the block runs."""
        stop = threading.Event()

        def run() -> None:
            while not stop.wait(seconds):
                self.write_one()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stop.set()
            thread.join()

    def close(self) -> None:
        self._connection.close()


def timed_get(session: requests.Session, url: str) -> tuple[float, requests.Response]:
    """Seconds for one GET that must answer 200, and its answer."""
    started = time.perf_counter()
    answer = session.get(url, timeout=10)
    elapsed = time.perf_counter() - started
    answer.raise_for_status()
    return elapsed, answer


def compute_seconds(answer: requests.Response) -> float:
    """How long the server took to compute the answer (its Server-Timing header, in ms)."""
    return float(SERVER_TIMING.search(answer.headers["Server-Timing"]).group(1)) / 1000


def poll_cost(base: str, writer: BatchWriter, polls: int) -> dict:
    """`polls` page polls after a write the workers have seen, then as many between writes, in
    seconds: the server's time to compute each answer after a write ("server"), and the latency a
    viewer sees after a write ("fresh") and between writes ("cached")."""
    session = requests.Session()
    timed_get(session, base + POLL_PATH)  # the page is open: its answer is watched from now on
    server, fresh = [], []
    for _ in range(polls):
        writer.write_one()
        time.sleep(STALE_SECONDS + 0.05)  # no worker serves an answer of before the write any more
        elapsed, answer = timed_get(session, base + POLL_PATH)
        fresh.append(elapsed)
        server.append(compute_seconds(answer))
    cached = [timed_get(session, base + POLL_PATH)[0] for _ in range(polls)]
    return {
        "server": latency_percentiles(server),
        "fresh": latency_percentiles(fresh),
        "cached": latency_percentiles(cached),
    }


def seven_request_poll(session: requests.Session, base: str) -> float:
    """Server time of one poll of the page before the snapshot: its seven requests, one after another."""
    seconds, since = 0.0, ""
    for path in SEVEN_REQUESTS:
        started = time.perf_counter()
        answer = session.get(base + path.format(since=quote(since)), timeout=30)
        seconds += time.perf_counter() - started
        answer.raise_for_status()
        since = since or answer.json()[0]["window_start"]  # the first answer: the chart's candles
    return seconds


def seven_request_cost(base: str, polls: int) -> dict:
    """`polls` polls of the seven-request page (every answer was computed: that webapp kept none)."""
    session = requests.Session()
    return {"fresh": latency_percentiles([seven_request_poll(session, base) for _ in range(polls)])}


def start_seven_request_webapp(stack: BenchStack, work: Path) -> tuple[Watched | None, str | None]:
    """The webapp before shared answers, from history; (None, None) with a log line when it cannot run."""
    tree = extract_seven_request_webapp(work)
    if tree is None:
        return None, None
    try:
        return start_webapp(stack, work, "webapp-seven-requests", tree)
    except StackError as exc:
        log.warning("the seven-request webapp is not measured: %s", exc)
        return None, None


def run_viewers(base: str, viewers: int, seconds: float, poll: float) -> dict:
    """`python -m bench.viewers` in a process of its own; its summary."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.viewers",
            base,
            "--viewers",
            str(viewers),
            "--seconds",
            str(seconds),
            "--poll",
            str(poll),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=seconds + 120,
        check=True,
    )
    return json.loads(result.stdout)


def measure_web_page(
    stack: BenchStack,
    work: Path,
    history_rows: tuple[int, ...],
    polls: int,
    viewers: int,
    viewer_seconds: float,
    poll_seconds: float = 5,
) -> dict:
    """Poll cost at each history length (and the seven-request page's, when history has it), then
    `viewers` viewers on the longest history while batches commit."""
    results: dict = {"poll_cost": {}, "seven_request_poll_cost": {}}
    webapp, base = start_webapp(stack, work, "webapp-page")
    old_webapp, old_base = start_seven_request_webapp(stack, work)
    writer = BatchWriter(stack.database_url)
    try:
        for rows in history_rows:
            count = str(fill_table(stack.database_url, rows))
            results["poll_cost"][count] = poll_cost(base, writer, polls)
            if old_base:
                results["seven_request_poll_cost"][count] = seven_request_cost(old_base, polls)
        if old_webapp:
            old_webapp.stop()
        committed = writer.batches
        with writer.every(BATCH_SECONDS):
            results["viewers"] = {
                **run_viewers(base, viewers, viewer_seconds, poll_seconds),
                "viewers": viewers,
                "batches_committed": writer.batches - committed,
            }
    finally:
        writer.close()
        webapp.stop()
        if old_webapp:
            old_webapp.stop()
    results["webapp_peak_rss_bytes"] = webapp.peak_rss
    return results
