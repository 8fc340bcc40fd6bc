"""Web API latency and requests/s at 50 concurrent clients (wrk) over a table of a million rows."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import psycopg2
import requests

from bench.exactness import empty_tables
from bench.stack import BenchStack, Watched
from common.settings import DEFAULT_SYMBOLS, REPO_ROOT, libpq_url
from devstack.process import free_port, wait_until

SYMBOLS = DEFAULT_SYMBOLS  # the demo's tickers
# `rows` rows: 80 % 1-minute windows and 20 % 5-minute windows over the same span, per symbol.
FILL_TABLE = """
INSERT INTO stock_aggregates (symbol, window_start, window_end, open_price, high_price, low_price,
    close_price, avg_price, price_stddev, event_count, volume, vwap, first_event_at, last_event_at)
SELECT symbol, start, start + size, 100 + mod(g, 7), 101 + mod(g, 7), 99 + mod(g, 7), 100.5 + mod(g, 7),
       100.2 + mod(g, 7), 0.5, 10 + mod(g, 90), 1000 + mod(g, 500), 100.3 + mod(g, 7), start,
       start + size - interval '1 second'
FROM unnest(%(symbols)s::text[]) AS symbol,
     (VALUES (interval '1 minute', %(minutes)s), (interval '5 minutes', %(fives)s)) AS w(size, n),
     generate_series(1, n) AS g,
     LATERAL (SELECT now() - size * g AS start) AS s
"""
ENDPOINTS = {
    "latest": "/api/latest?window=1m",
    "aggregates": "/api/aggregates?symbol=AAPL&window=1m&limit=200",
}
LATENCY_LINE = re.compile(r"^\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", re.M)
UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0}


def fill_table(database_url: str, rows: int) -> int:
    """Replace stock_aggregates with `rows` synthetic rows (8 symbols, two window sizes)."""
    empty_tables(database_url)
    per_symbol = rows // len(SYMBOLS)
    connection = psycopg2.connect(libpq_url(database_url))
    try:
        with connection, connection.cursor() as cursor:
            cursor.execute(
                FILL_TABLE,
                {"symbols": list(SYMBOLS), "minutes": per_symbol * 4 // 5, "fives": per_symbol - per_symbol * 4 // 5},
            )
            cursor.execute("SELECT count(*) FROM stock_aggregates")
            count = cursor.fetchone()[0]
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE stock_aggregates")
            cursor.execute("ANALYZE")  # the tables the triggers filled too, as autovacuum would soon
    finally:
        connection.close()
    return count


def parse_wrk(output: str) -> dict:
    """p50, p99 (seconds), requests/s and errors from `wrk --latency` output."""
    latencies = {f"p{m.group(1)}": float(m.group(2)) * UNITS[m.group(3)] for m in LATENCY_LINE.finditer(output)}
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if not (rate and "p50" in latencies and "p99" in latencies):
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    failed = (int(errors.group(1)) if errors else 0) + (sum(map(int, socket_errors.groups())) if socket_errors else 0)
    return {**latencies, "requests_per_second": float(rate.group(1)), "errors": failed}


def run_wrk(url: str, connections: int, seconds: int) -> dict:
    """One wrk run with `connections` concurrent clients."""
    result = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "--latency", url],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    )
    return parse_wrk(result.stdout)


def measure_web_api(stack: BenchStack, work: Path, rows: int, runs: int, seconds: int, clients: int = 50) -> dict:
    """Fill the table, start the webapp, then wrk each endpoint `runs` times."""
    count = fill_table(stack.database_url, rows)
    webapp, base = start_webapp(stack, work, "webapp")
    try:
        results = {
            name: [run_wrk(base + path, clients, seconds) for _ in range(runs)] for name, path in ENDPOINTS.items()
        }
    finally:
        webapp.stop()
    return {"rows": count, "clients": clients, "runs": results, "webapp_peak_rss_bytes": webapp.peak_rss}


def start_webapp(stack: BenchStack, work: Path, name: str, tree: Path | None = None) -> tuple[Watched, str]:
    """`python -m webapp` (of `tree`, an earlier version, when given) on a free port, answering."""
    port = free_port()
    env = stack.pipeline_env("unused", work, **({"PYTHONPATH": str(tree)} if tree else {}))
    webapp = Watched("webapp", ["--port", str(port)], env, work / f"{name}.log", cwd=tree or REPO_ROOT)
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: answers_ok(base + "/healthz"), 60, name, alive=lambda: webapp.process.poll() is None)
    return webapp, base


def answers_ok(url: str) -> bool:
    """Does `url` answer 200 now?"""
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False
