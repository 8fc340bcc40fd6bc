"""How the webapp serves many viewers: answers shared per data version with ETags, one snapshot per
page poll, indicators from the kept EMA state, and `python -m webapp` as several worker processes
that stop cleanly. Against the real Postgres (the triggers of sql/011 do the bookkeeping)."""

import math
import os
import signal
import urllib.request
from datetime import UTC, datetime, timedelta

import psutil
from flask import request
from sqlalchemy import event

from devstack.process import wait_until
from reference import analytics as reference
from tests.candles import insert_candles, random_series
from tests.helpers import start_webapp
from webapp.queries import as_json_value

START = datetime(2026, 11, 20, 14, 30, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def app_client(make_app, stale_seconds):
    app = make_app(ANSWER_STALE_SECONDS=stale_seconds)
    return app, app.test_client()


def data_version(db) -> int:
    with db.cursor() as cursor:
        cursor.execute("SELECT version FROM data_version")
        return cursor.fetchone()[0]


def test_viewers_share_one_answer_per_data_version_with_etags_and_304s(db, make_app):
    insert_candles(db, random_series("AAPL", START, 1, 5, seed=1))
    _app, client = app_client(make_app, stale_seconds=0)
    first = client.get("/api/latest")
    assert first.status_code == 200 and first.headers["Cache-Control"] == "no-cache"
    etag = first.headers["ETag"]
    again = client.get("/api/latest", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""

    version = data_version(db)
    insert_candles(db, random_series("MSFT", START, 1, 1, seed=2))
    assert data_version(db) > version  # the write bumped the version in its own transaction
    changed = client.get("/api/latest", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert [r["symbol"] for r in changed.get_json()] == ["AAPL", "MSFT"]

    with db.cursor() as cursor:  # a reject also changes what the page shows
        cursor.execute(
            "INSERT INTO rejected_events (topic, partition, kafka_offset, raw_value, reason)"
            " VALUES ('t', 0, 1, 'x', 'not a valid JSON object')"
        )
    assert client.get("/api/quality").get_json()["rejected"] == 1


def test_between_two_writes_the_database_is_asked_only_for_the_version(db, make_app):
    insert_candles(db, random_series("AAPL", START, 1, 5, seed=1))
    app, client = app_client(make_app, stale_seconds=60)
    app.extensions["answer_cache"].check_seconds = 60  # no new read of the version during the test
    statements = []
    event.listen(
        app.extensions["db_engine"],
        "before_cursor_execute",
        lambda _conn, _cursor, statement, *_: statements.append(statement),
    )
    first = client.get("/api/snapshot?window=1m")
    assert sum("FROM data_version" in s for s in statements) == 1
    first_poll = len(statements)
    assert first_poll > 1
    viewers = [client.get("/api/snapshot?window=1m") for _ in range(20)]
    assert len(statements) == first_poll  # 20 more viewers cost no query at all
    assert {v.data for v in viewers} == {first.data}


def test_a_kept_answer_is_served_before_flask_with_the_headers_flask_sends(db, make_app):
    insert_candles(db, random_series("AAPL", START, 1, 5, seed=1))
    app, client = app_client(make_app, stale_seconds=60)
    reached_flask = []
    app.before_request(lambda: reached_flask.append(request.method))
    first = client.get("/api/latest?window=1m")  # computed by the view, then kept
    kept = client.get("/api/latest?window=1m")
    not_modified = client.get("/api/latest?window=1m", headers={"If-None-Match": first.headers["ETag"]})
    assert reached_flask == ["GET"]  # the two later answers never reached Flask
    assert kept.status_code == 200 and kept.data == first.data

    def headers(response):
        return sorted((name, value) for name, value in response.headers.items() if name != "Date")

    # Flask answers HEAD from the same view: what it would send for each
    assert headers(kept) == headers(first) == headers(client.head("/api/latest?window=1m"))
    assert not_modified.status_code == 304 and not_modified.data == b""
    flask_not_modified = client.head("/api/latest?window=1m", headers={"If-None-Match": first.headers["ETag"]})
    assert flask_not_modified.status_code == 304 and headers(not_modified) == headers(flask_not_modified)
    assert reached_flask == ["GET", "HEAD", "HEAD"]


def test_a_polled_answer_is_computed_again_after_a_write_before_the_next_poll(db, make_app):
    insert_candles(db, random_series("AAPL", START, 1, 5, seed=1))
    app, client = app_client(make_app, stale_seconds=0.2)
    statements = []
    event.listen(
        app.extensions["db_engine"],
        "before_cursor_execute",
        lambda _conn, _cursor, statement, *_: statements.append(statement),
    )
    first = client.get("/api/snapshot?window=1m")
    assert [r["symbol"] for r in first.get_json()["latest"]] == ["AAPL"]
    computed_once = sum("EXECUTE snapshot_chart(" in s for s in statements)
    insert_candles(db, random_series("MSFT", START, 1, 1, seed=2))
    # the worker's refresher sees the new version and computes the page's answer, with no request
    wait_until(
        lambda: sum("EXECUTE snapshot_chart(" in s for s in statements) > computed_once,
        10,
        "the answer refreshed ahead",
    )
    again = wait_until(
        lambda: (
            (answer := client.get("/api/snapshot?window=1m")).get_json()["latest"][-1:]
            and answer.get_json()["latest"][-1]["symbol"] == "MSFT"
            and answer
        ),
        5,
        "the new answer",
    )
    assert [r["symbol"] for r in again.get_json()["latest"]] == ["AAPL", "MSFT"]
    # one computation after the write, the refresher's: the polls took its answer
    assert sum("EXECUTE snapshot_chart(" in s for s in statements) == computed_once + 1
    assert again.headers["Server-Timing"].startswith("compute;dur=")


def test_the_snapshot_holds_what_the_page_shows_for_one_window_size(db, make_app):
    candles = [*random_series("AAPL", START, 1, 30, seed=11), *random_series("MSFT", START, 1, 3, seed=12)]
    insert_candles(db, candles)
    _app, client = app_client(make_app, stale_seconds=0)
    snapshot = client.get("/api/snapshot?window=1m&symbol=msft&limit=2").get_json()
    assert snapshot["symbol"] == "MSFT" and snapshot["window"] == "1m"
    assert snapshot["latest"] == client.get("/api/latest?window=1m").get_json()
    rows = client.get("/api/aggregates?symbol=MSFT&window=1m&limit=2").get_json()
    indicators = client.get("/api/indicators?symbol=MSFT&window=1m&limit=2").get_json()
    assert snapshot["candles"] == [{**i, "volume": row["volume"]} for i, row in zip(indicators, rows, strict=True)]
    assert list(snapshot["candles"][0])[:8] == [
        "symbol",
        "window_start",
        "window_end",
        "open_price",
        "high_price",
        "low_price",
        "close_price",
        "volume",
    ]
    assert snapshot["movers"] == client.get("/api/movers?window=1m").get_json()
    assert snapshot["quality"] == client.get("/api/quality").get_json()
    assert snapshot["candle_events"] == {"1m": 2.0}  # tests.candles writes two events per candle
    unknown = client.get("/api/snapshot?window=1m&symbol=ZZZZ").get_json()
    assert unknown["symbol"] == "AAPL"  # a symbol the table lacks charts the first one
    spikes = reference.spikes(candles)
    aapl_spikes = sorted(k[1] for k in spikes if k[0] == "AAPL")
    assert [r["window_start"] for r in unknown["spikes"]] == [as_json_value(t) for t in aapl_spikes]
    assert client.get("/api/snapshot?window=2m").status_code == 400


def test_candle_events_are_the_mean_events_per_candle_of_each_size_over_the_newest_hour(db, make_app):
    candles = [
        *random_series("AAPL", START, 1, 90, seed=13),  # half an hour older than the newest hour
        *random_series("MSFT", START + 80 * MINUTE, 1, 10, seed=14),
        *random_series("AAPL", START, 5, 18, seed=15),
    ]
    insert_candles(db, candles)
    events = {(c["symbol"], c["window_start"], c["window_end"]): 1 + n % 7 for n, c in enumerate(candles)}
    with db.cursor() as cursor:
        for (symbol, start, end), count in events.items():
            cursor.execute(
                "UPDATE stock_aggregates SET event_count = %s"
                " WHERE symbol = %s AND window_start = %s AND window_end = %s",
                (count, symbol, start, end),
            )
    _app, client = app_client(make_app, stale_seconds=0)
    newest_end = max(end for _, _, end in events)
    expected = {}
    for name, minutes in (("1m", 1), ("5m", 5)):
        counts = [
            count
            for (_, start, end), count in events.items()
            if end - start == minutes * MINUTE and start > newest_end - timedelta(hours=1)
        ]
        expected[name] = sum(counts) / len(counts)
    assert client.get("/api/snapshot?window=5m").get_json()["candle_events"] == expected


def test_indicators_stay_exact_through_late_candles_rewrites_and_deletes(db, make_app):
    """The kept EMA state against the reference after every kind of write the table can see."""
    series = random_series("AAPL", START, 1, 60, seed=21, gap_every=7)
    insert_candles(db, series[:40])
    insert_candles(db, series[50:])  # a hole ...
    rewritten = [{**c, "close_price": round(c["close_price"] * 1.01, 2)} for c in series[10:12]]
    insert_candles(db, rewritten, per_statement=2)  # one upsert changes two old closes
    with db.cursor() as cursor:
        cursor.execute(
            "DELETE FROM stock_aggregates WHERE symbol = 'AAPL' AND window_start = %s", (series[30]["window_start"],)
        )
    # ... filled late, last (no later write recomputes it), ten candles in one statement: every later EMA changes
    insert_candles(db, series[40:50], per_statement=10)
    remaining = [c for c in series if c["window_start"] != series[30]["window_start"]]
    remaining = [next((r for r in rewritten if r["window_start"] == c["window_start"]), c) for c in remaining]
    expected = reference.indicators(remaining)
    _app, client = app_client(make_app, stale_seconds=0)
    rows = client.get("/api/indicators?symbol=AAPL&window=1m&limit=2000").get_json()
    assert len(rows) == len(remaining) == 59
    for row in rows:
        want = expected[
            ("AAPL", datetime.fromisoformat(row["window_start"]), datetime.fromisoformat(row["window_end"]))
        ]
        for field, value in want.items():
            if isinstance(value, float):
                assert math.isclose(row[field], value, rel_tol=1e-12), (row["window_start"], field)
            else:
                assert row[field] == value, (row["window_start"], field)


def test_python_m_webapp_serves_with_worker_processes_and_stops_on_sigterm(stack, pipeline_env, topic_factory):
    process, base = start_webapp(pipeline_env(topic_factory("web")), "--workers", "2")
    try:
        with urllib.request.urlopen(f"{base}/api/latest", timeout=10) as answer:
            assert answer.status == 200
        master = psutil.Process(process.pid)

        def two_workers():
            children = master.children()
            return children if len(children) == 2 else None

        workers = wait_until(two_workers, 30, "the webapp's two worker processes")
        os.kill(process.pid, signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert f"serving on {base}/ with 2 worker processes" in output
    assert output.rstrip().endswith("webapp: stopped"), output
    assert not any(w.is_running() and w.status() != psutil.STATUS_ZOMBIE for w in workers)
