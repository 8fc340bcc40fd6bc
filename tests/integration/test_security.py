"""Security audit: every process run with a known API key never shows it; the webapp's role cannot
write; injection and markup payloads in every API parameter are refused or inert; every answer
carries the security headers."""

import re
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from common.settings import DEFAULTS, REPO_ROOT, build_settings
from devstack.process import free_port, port_accepts, wait_until
from tests.fakes.finnhub_http import FakeFinnhub, Reply
from tests.helpers import publish, run_module, trades
from webapp import SECURITY_HEADERS, create_app

TOKEN = "sec-AUDIT-7d1e0b"
PAGES = ["/", "/static/app.js", "/api/latest", "/api/aggregates?symbol=AAPL", "/api/aggregates",
         "/api/symbols", "/api/quality", "/healthz", "/no-such-page", "/api/latest?window=<b>"]
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
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "webapp", "--port", str(port)], cwd=REPO_ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_until(lambda: port_accepts("127.0.0.1", port), 60, "the webapp", alive=lambda: process.poll() is None)
        answers = [fetch(f"http://127.0.0.1:{port}{page}") for page in pages]
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    assert {status for status, _, _ in answers} & {200, 503}, answers
    return output + "".join(f"{status}\n{headers}\n{body}" for status, headers, body in answers)


def test_no_process_ever_shows_the_api_key(stack, db, topic_factory, pipeline_env):
    topic = topic_factory("audit")
    publish(stack.bootstrap_servers, topic, trades(50, seed=9) + [b"not json"])
    echo = Reply(status=404, body="<html>No route for {url}</html>", content_type="text/html")
    with FakeFinnhub() as fake:
        fake.script("MSFT", echo)
        env = pipeline_env(topic, FINNHUB_API_KEY=TOKEN, FINNHUB_BASE_URL=fake.base_url, SYMBOLS="AAPL,MSFT")
        producer = run_module("producer", "--source", "finnhub", "--cycles", "1", env=env)
    assert [r.token for r in fake.requests][0] == TOKEN  # the producer did use the key
    streaming = run_module("streaming", "--available-now", "--watermark", "1 hour", env=env)
    devstack = [run_module("devstack", command, env=env) for command in ("status", "schema")]
    outputs = [producer.stdout + producer.stderr, streaming.stdout + streaming.stderr]
    outputs += [r.stdout + r.stderr for r in devstack]
    outputs.append(serve_webapp(env, PAGES))
    dead_database = dict(env, DATABASE_URL=f"postgresql://nobody:pw@127.0.0.1:{free_port()}/none",
                         WEB_DATABASE_URL="")
    outputs.append(serve_webapp(dead_database, PAGES))  # the 503 answers and their log lines
    outputs.append(repr(build_settings({**DEFAULTS, "FINNHUB_API_KEY": TOKEN})))
    assert "aggregates-1m batch" in outputs[1] and "503" in outputs[-2]  # they really ran and answered
    for output in outputs:
        assert TOKEN not in output
    with db.cursor() as cursor:  # nor does anything the pipeline stored
        cursor.execute("SELECT count(*) FROM rejected_events WHERE raw_value LIKE %s", (f"%{TOKEN}%",))
        assert cursor.fetchone()[0] == 0


@pytest.fixture
def client(stack, db):
    """The webapp, reading through its read-only role when the tests created one."""
    with db.cursor() as cursor:
        start = datetime(2026, 11, 20, 14, 30, tzinfo=timezone.utc)
        cursor.execute(
            "INSERT INTO stock_aggregates (symbol, window_start, window_end, open_price, high_price, low_price,"
            " close_price, avg_price, event_count, first_event_at, last_event_at)"
            " VALUES ('AAPL', %s, %s, 1, 1, 1, 1, 1, 1, %s, %s)",
            (start, start + timedelta(minutes=1), start, start),
        )
    app = create_app({"DATABASE_URL": stack.reader_url or stack.database_url, "TESTING": True})
    return app.test_client()


def test_the_webapp_role_cannot_insert(stack, client):
    if stack.reader_url is None:
        pytest.skip("the tests did not create a read-only role on this Postgres")
    app = client.application
    with app.app_context(), pytest.raises(ProgrammingError, match="permission denied"):
        with app.extensions["db_engine"].begin() as connection:
            connection.execute(text(
                "INSERT INTO stock_aggregates (symbol, window_start, window_end, event_count)"
                " VALUES ('EVIL', now(), now() + interval '1 minute', 1)"
            ))
    with app.app_context(), pytest.raises(ProgrammingError, match="permission denied"):
        with app.extensions["db_engine"].begin() as connection:
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


def test_injection_and_markup_in_every_parameter_are_refused_or_inert(client, db):
    parameters = query_parameters()
    assert {"symbol", "window", "limit", "since"} <= set(parameters)
    answered = 0
    for route in get_routes(client.application):
        for name in parameters:
            for payload in PAYLOADS:
                response = client.get(route, query_string={"symbol": "AAPL", name: payload})
                assert response.status_code in (200, 400, 404), (route, name, payload, response.status_code)
                body = response.get_data(as_text=True)
                if response.status_code == 400 and response.is_json:
                    assert response.get_json()["parameter"] == name
                if response.mimetype == "text/html":  # markup may never come back as markup
                    assert payload not in body and "<script>alert" not in body, (route, name)
                answered += 1
    assert answered >= 5 * len(parameters) * len(PAYLOADS)
    with db.cursor() as cursor:  # and no statement ever ran
        cursor.execute("SELECT symbol FROM stock_aggregates")
        assert cursor.fetchall() == [("AAPL",)]


def test_every_answer_carries_the_security_headers(client):
    paths = get_routes(client.application) + ["/static/app.js", "/no-such-page", "/api/latest?window=bad",
                                              "/api/aggregates"]
    for path in paths:
        response = client.get(path, query_string={"symbol": "AAPL"} if "aggregates" in path else None)
        for header, value in SECURITY_HEADERS.items():
            assert response.headers.get(header) == value, (path, header)
