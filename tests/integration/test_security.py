"""Security audit: every process run with a known API key never shows it; the webapp's role cannot
write; injection and markup payloads in every API parameter are refused or inert; every answer
carries the security headers."""

import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DataError, ProgrammingError

from common.settings import DEFAULTS, REPO_ROOT, build_settings
from devstack.process import free_port
from tests.fakes.finnhub_http import FakeFinnhub, Reply
from tests.helpers import publish, read_write, run_module, start_webapp, trades
from webapp import SECURITY_HEADERS, create_app, queries
from webapp.db import build_engine

TOKEN = "sec-AUDIT-7d1e0b"
PAGES = [
    "/",
    "/static/app.js",
    "/api/latest",
    "/api/aggregates?symbol=AAPL",
    "/api/aggregates",
    "/api/symbols",
    "/api/quality",
    "/healthz",
    "/no-such-page",
    "/api/latest?window=<b>",
]
PAYLOADS = [
    "AAPL'; DROP TABLE stock_aggregates; --",
    "1 OR 1=1",
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "%00",
]


def fetch(url: str) -> tuple[int, str, str]:
    """(status, headers as text, body) of a GET, error answers included."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, str(response.headers), response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, str(error.headers), error.read().decode("utf-8", "replace")


def serve_webapp(env: dict, pages: list[str]) -> str:
    """Run `python -m webapp`, fetch `pages`, stop it; everything it printed and answered."""
    process, base = start_webapp(env)
    try:
        answers = [fetch(base + page) for page in pages]
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    assert {status for status, _, _ in answers} & {200, 503}, answers
    return output + "".join(f"{status}\n{headers}\n{body}" for status, headers, body in answers)


def test_no_process_ever_shows_the_api_key(stack, db, topic_factory, pipeline_env):
    topic = topic_factory("audit")
    publish(stack.bootstrap_servers, topic, [*trades(50, seed=9), b"not json"])
    echo = Reply(status=404, body="<html>No route for {url}</html>", content_type="text/html")
    with FakeFinnhub() as fake:
        fake.script("MSFT", echo)
        env = pipeline_env(topic, FINNHUB_API_KEY=TOKEN, FINNHUB_BASE_URL=fake.base_url, SYMBOLS="AAPL,MSFT")
        producer = run_module("producer", "--source", "finnhub", "--cycles", "1", env=env)
    assert next(r.token for r in fake.requests) == TOKEN  # the producer did use the key
    streaming = run_module("streaming", "--available-now", "--watermark", "1 hour", env=env)
    devstack = [run_module("devstack", command, env=env) for command in ("status", "schema")]
    outputs = [producer.stdout + producer.stderr, streaming.stdout + streaming.stderr]
    outputs += [r.stdout + r.stderr for r in devstack]
    outputs.append(serve_webapp(env, PAGES))
    dead_database = dict(env, DATABASE_URL=f"postgresql://nobody:pw@127.0.0.1:{free_port()}/none", WEB_DATABASE_URL="")
    refused = subprocess.run(
        [sys.executable, "-m", "webapp", "--port", str(free_port())],
        cwd=REPO_ROOT,
        env=dead_database,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    outputs.append(refused.stdout + refused.stderr)  # the one line saying Postgres is not there
    outputs.append(repr(build_settings({**DEFAULTS, "FINNHUB_API_KEY": TOKEN})))
    assert "aggregates batch" in outputs[1] and refused.returncode == 1  # they really ran
    assert "Postgres at 127.0.0.1:" in outputs[-2] and "is not reachable" in outputs[-2]
    for output in outputs:
        assert TOKEN not in output
    with db.cursor() as cursor:  # nor does anything the pipeline stored
        cursor.execute("SELECT count(*) FROM rejected_events WHERE raw_value LIKE %s", (f"%{TOKEN}%",))
        assert cursor.fetchone()[0] == 0


def seed_one_row(db):
    """One AAPL candle: the only row any test here expects to find."""
    with db.cursor() as cursor:
        start = datetime(2026, 11, 20, 14, 30, tzinfo=UTC)
        cursor.execute(
            "INSERT INTO stock_aggregates (symbol, window_start, window_end, open_price, high_price, low_price,"
            " close_price, avg_price, event_count, first_event_at, last_event_at)"
            " VALUES ('AAPL', %s, %s, 1, 1, 1, 1, 1, 1, %s, %s)",
            (start, start + timedelta(minutes=1), start, start),
        )


@pytest.fixture
def reader_client(stack, db, make_app):
    """The webapp over one row, reading through its read-only role when the tests created one."""
    seed_one_row(db)
    return make_app(DATABASE_URL=stack.reader_url or stack.database_url).test_client()


def test_the_webapp_role_cannot_insert(stack, reader_client):
    if stack.reader_url is None:
        pytest.skip("the tests did not create a read-only role on this Postgres")
    app = reader_client.application
    with (
        app.app_context(),
        pytest.raises(ProgrammingError, match="permission denied"),
        read_write(app.extensions["db_engine"]).begin() as connection,
    ):
        connection.execute(
            text(
                "INSERT INTO stock_aggregates (symbol, window_start, window_end, event_count)"
                " VALUES ('EVIL', now(), now() + interval '1 minute', 1)"
            )
        )
    with (
        app.app_context(),
        pytest.raises(ProgrammingError, match="permission denied"),
        read_write(app.extensions["db_engine"]).begin() as connection,
    ):
        connection.execute(text("CREATE TABLE evil (x int)"))


def query_parameters() -> list[str]:
    """Every query parameter the webapp reads, found in its source, so a new one is covered too."""
    names = set()
    for path in (REPO_ROOT / "webapp").glob("*.py"):
        names.update(re.findall(r"request\.args\.get\(\s*[\"'](\w+)[\"']", path.read_text()))
    return sorted(names)


def get_routes(app) -> list[str]:
    """Every GET route of the app without path variables."""
    return sorted({r.rule for r in app.url_map.iter_rules() if "GET" in r.methods and "<" not in r.rule})


HARMLESS = {"symbol": "ZZZZ", "window": "5m", "limit": "7", "since": "2026-11-20T14:00:00Z"}
VOLATILE = ("newest_row_age_seconds",)  # changes between two requests a moment apart


def comparable(response) -> tuple:
    """(status, body) of an answer, without the values that change with the clock."""
    if response.is_json and isinstance(response.get_json(), dict):
        body = {k: v for k, v in response.get_json().items() if k not in VOLATILE}
    else:
        body = response.get_data(as_text=True)
    return response.status_code, body


def test_injection_and_markup_in_every_parameter_are_refused_or_answered_as_a_harmless_value(reader_client):
    parameters = query_parameters()
    assert set(parameters) == set(HARMLESS)  # a new parameter needs its harmless value here
    answered = 0
    for route in get_routes(reader_client.application):
        for name in parameters:
            harmless = comparable(reader_client.get(route, query_string={"symbol": "AAPL", name: HARMLESS[name]}))
            for payload in PAYLOADS:
                response = reader_client.get(route, query_string={"symbol": "AAPL", name: payload})
                if response.status_code == 400:
                    assert response.get_json()["parameter"] == name, (route, name, payload)
                else:
                    assert comparable(response) == harmless, (route, name, payload)
                answered += 1
    assert answered == len(get_routes(reader_client.application)) * len(parameters) * len(PAYLOADS)


def test_payloads_reach_the_database_only_as_values(stack, db):
    """The queries themselves, past the parameter checks and as a role that could write: a payload
    is a value that matches nothing, never SQL."""
    seed_one_row(db)
    engine = build_engine(stack.database_url)  # the owner of the tables: DROP TABLE would succeed
    try:
        with engine.connect() as connection:
            for payload in PAYLOADS:
                assert json.loads(queries.aggregates_for_symbol(connection, payload, 60, 200, None)) == []
                assert json.loads(queries.indicators_for_symbol(connection, payload, 60, 200, None)) == []
                assert json.loads(queries.spikes(connection, payload, 60, 200, None)) == []
                with pytest.raises(DataError, match=r"invalid input syntax for type timestamp|date/time field"):
                    queries.aggregates_for_symbol(connection, "AAPL", 60, 200, payload)
                connection.rollback()
            rows = json.loads(queries.aggregates_for_symbol(connection, "AAPL", 60, 200, None))
            assert [r["symbol"] for r in rows] == ["AAPL"]
    finally:
        engine.dispose()
    with db.cursor() as cursor:  # and no statement of a payload ran
        cursor.execute("SELECT symbol FROM stock_aggregates")
        assert cursor.fetchall() == [("AAPL",)]


def test_every_answer_carries_the_security_headers(reader_client):
    paths = [
        *get_routes(reader_client.application),
        "/static/app.js",
        "/no-such-page",
        "/api/latest?window=bad",
        "/api/aggregates",
    ]
    for path in paths:
        response = reader_client.get(path, query_string={"symbol": "AAPL"} if "aggregates" in path else None)
        for header, value in SECURITY_HEADERS.items():
            assert response.headers.get(header) == value, (path, header)


def test_python_m_webapp_reads_as_the_role_of_web_database_url(stack, db, pipeline_env, topic_factory, monkeypatch):
    assert stack.reader_url, "the test stack creates the read-only role"
    reader = stack.reader_url.split("//")[1].split(":")[0]
    env = pipeline_env(topic_factory("web"), WEB_DATABASE_URL=stack.reader_url)
    assert env["DATABASE_URL"] == stack.database_url  # both set: the webapp must take the reader

    def sessions() -> set[tuple[int, str]]:
        with db.cursor() as cursor:  # pid and role are what another role's sessions show
            cursor.execute("SELECT pid, usename FROM pg_stat_activity WHERE datname = current_database()")
            return set(cursor.fetchall())

    before = sessions()
    process, base = start_webapp(env)
    try:
        assert fetch(f"{base}/healthz")[0] == 200
        assert [role for _, role in sessions() - before] == [reader]  # the process's one pooled connection
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    assert f"reading postgresql://{reader}:***@" in output

    monkeypatch.setenv("DATABASE_URL", stack.database_url)
    monkeypatch.setenv("WEB_DATABASE_URL", stack.reader_url)
    app = create_app()  # what `python -m webapp` builds from the same environment
    with (
        pytest.raises(ProgrammingError, match="permission denied"),
        read_write(app.extensions["db_engine"]).begin() as connection,
    ):
        connection.execute(text("DELETE FROM stock_aggregates"))
