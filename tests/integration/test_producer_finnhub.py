"""The producer's Finnhub sources, with the real finnhub-python and websocket-client talking to
local fakes, publishing into the real broker; what reaches each topic is read back."""

import itertools
import json
import re
import signal
import subprocess
import sys
import time

import pytest

from common.contract import message_problem
from common.settings import DEFAULTS, REPO_ROOT
from devstack.process import wait_until
from tests.fakes.finnhub_http import FakeFinnhub, Reply, json_reply, quote
from tests.fakes.finnhub_ws import DROP, FakeTradeSocket
from tests.helpers import most_in_any_window, read_messages, read_records, start_module

TOKEN = "tok-SECRET-4f2a9c"


def run_producer(env, *args, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "producer", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def finnhub_env(pipeline_env, topic_factory):
    def build(fake: FakeFinnhub, **extra):
        topic = topic_factory("finnhub")
        env = pipeline_env(topic, FINNHUB_API_KEY=TOKEN, FINNHUB_BASE_URL=fake.base_url, **extra)
        return topic, env

    return build


def test_errors_are_retried_and_bad_answers_dead_lettered(stack, finnhub_env):
    with FakeFinnhub() as fake:
        fake.script(
            "AAPL",
            Reply(status=429, body='{"error":"API limit reached"}', headers={"Retry-After": "3"}),
            json_reply(quote(231.5)),
        )
        fake.script("MSFT", Reply(status=429, body='{"error":"API limit reached"}'), json_reply(quote(420.25)))
        fake.script("NVDA", Reply(status=500, body="oops", content_type="text/plain"), json_reply(quote(130.5)))
        fake.script("TSLA", Reply(body=json.dumps(quote(250.0)), delay=2.0), json_reply(quote(250.75)))
        fake.script("ZERO", json_reply({"c": 0, "d": None, "dp": None, "h": 0, "l": 0, "o": 0, "pc": 0, "t": 0}))
        fake.script("NULLQ", json_reply({"c": None, "h": None, "l": None, "o": None, "pc": None, "t": None}))
        fake.script("HTML", Reply(body="<html><body>Bad gateway</body></html>", content_type="text/html"))
        fake.script("BADJS", Reply(body='{"c": 12.5, "t": '))
        topic, env = finnhub_env(fake, FINNHUB_TIMEOUT_SECONDS="0.5")
        result = run_producer(
            env,
            "--source",
            "finnhub",
            "--cycles",
            "1",
            "--interval",
            "60",
            "--symbols",
            "AAPL,MSFT,NVDA,TSLA,ZERO,NULLQ,HTML,BADJS",
        )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "cycle 1: 4 ok, 4 retried, 4 rejected, 0 failed" in output
    assert "12/60 calls in the last minute" in output  # 8 symbols and 4 retries

    published = {m["symbol"]: m for m in read_messages(stack.bootstrap_servers, topic)}
    assert {s: m["price"] for s, m in published.items()} == {
        "AAPL": 231.5,
        "MSFT": 420.25,
        "NVDA": 130.5,
        "TSLA": 250.75,
    }
    assert all(message_problem(m) is None and m["source"] == "finnhub" for m in published.values())

    dead = {d["symbol"]: d for d in read_messages(stack.bootstrap_servers, f"{topic}-dlq")}
    assert sorted(dead) == ["BADJS", "HTML", "NULLQ", "ZERO"]
    assert "zero or negative" in dead["ZERO"]["reason"]
    assert "no price" in dead["NULLQ"]["reason"]
    assert dead["HTML"]["reason"] == "answer is not JSON" and "Bad gateway" in dead["HTML"]["raw"]
    assert dead["BADJS"]["raw"] == '{"c": 12.5, "t": '
    assert all(d["source"] == "finnhub" for d in dead.values())

    first, second = fake.requests_for("AAPL")
    assert second.at - first.at >= 3.0  # Retry-After was honoured (a fallback backoff is 0.5-1 s)
    assert all(r.token == TOKEN for r in fake.requests)
    assert TOKEN not in output


def test_a_symbol_that_keeps_failing_is_given_up_until_the_next_cycle(stack, finnhub_env):
    unchanged = int(time.time()) - 60
    with FakeFinnhub(default=lambda s: json_reply(quote(100.0, t=unchanged))) as fake:
        fake.script("DOWN", *[Reply(status=503, body="unavailable", content_type="text/plain")] * 20)
        topic, env = finnhub_env(fake)
        result = run_producer(env, "--source", "finnhub", "--cycles", "2", "--interval", "2", "--symbols", "DOWN,AAPL")
    output = result.stderr
    assert result.returncode == 0, output
    assert output.count("DOWN: HTTP 503 from Finnhub; giving up until the next cycle") == 2
    published = read_messages(stack.bootstrap_servers, topic)
    assert [m["symbol"] for m in published] == ["AAPL", "AAPL"]
    assert len({m["id"] for m in published}) == 1  # the unchanged quote keeps its id
    assert len(fake.requests_for("AAPL")) == 2
    assert "Traceback" not in output


def test_a_rejected_key_exits_2_with_one_clear_message(finnhub_env):
    with FakeFinnhub(default=lambda s: json_reply({"error": "Invalid API key"}, status=401)) as fake:
        _, env = finnhub_env(fake)
        result = run_producer(env, "--source", "finnhub", "--cycles", "1")
    assert result.returncode == 2
    assert "FINNHUB_API_KEY was rejected" in result.stderr
    assert "Traceback" not in result.stderr and TOKEN not in result.stderr


def test_the_token_echoed_by_an_error_page_is_masked(stack, finnhub_env):
    echo = Reply(status=404, body="<html>No route for {url}</html>", content_type="text/html")
    with FakeFinnhub(default=lambda s: echo) as fake:
        topic, env = finnhub_env(fake)
        result = run_producer(env, "--source", "finnhub", "--cycles", "1", "--symbols", "AAPL")
    assert result.returncode == 0
    dead = read_messages(stack.bootstrap_servers, f"{topic}-dlq")
    assert len(dead) == 1
    assert dead[0]["reason"] == "HTTP 404 from Finnhub" and "token=***" in dead[0]["raw"]
    assert TOKEN not in json.dumps(dead) + result.stderr


def stop_after(env, args, bootstrap_servers, topic, count):
    """Run the producer until `count` messages are in the topic, SIGTERM it; (exit code, output)."""
    process = start_module("producer", *args, env=env)
    try:
        wait_until(
            lambda: len(read_messages(bootstrap_servers, topic)) >= count,
            60,
            f"{count} messages",
            alive=lambda: process.poll() is None,
        )
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    finally:
        process.kill()
    return process.returncode, output


def test_websocket_trades_survive_drops_and_bad_frames(stack, pipeline_env, topic_factory):
    now = int(time.time() * 1000)
    first = [
        {"type": "ping"},
        {
            "type": "trade",
            "data": [
                {"s": "AAPL", "p": 231.5, "t": now, "v": 100, "c": ["1"]},
                {"s": "AAPL", "p": 231.5, "t": now, "v": 100, "c": ["1"]},  # a second, equal trade
                {"s": "MSFT", "p": 0, "t": now, "v": 5},
            ],
        },
        "this is not json",
        DROP,
    ]
    second = [{"type": "trade", "data": [{"s": "MSFT", "p": 420.0, "t": now + 5, "v": 7}]}]
    topic = topic_factory("ws")
    with FakeTradeSocket([first, second], symbols_expected=2) as fake:
        env = pipeline_env(topic, FINNHUB_API_KEY=TOKEN, FINNHUB_WS_URL=fake.url)
        code, output = stop_after(
            env, ["--source", "finnhub-ws", "--symbols", "AAPL,MSFT"], stack.bootstrap_servers, topic, 3
        )
    assert code == 0, output
    trades = read_messages(stack.bootstrap_servers, topic)
    assert sorted((t["symbol"], t["price"], t["volume"]) for t in trades) == [
        ("AAPL", 231.5, 100.0),
        ("AAPL", 231.5, 100.0),
        ("MSFT", 420.0, 7.0),
    ]
    assert len({t["id"] for t in trades}) == 3 and all(t["source"] == "finnhub-ws" for t in trades)
    reasons = sorted(d["reason"] for d in read_messages(stack.bootstrap_servers, f"{topic}-dlq"))
    assert reasons == ["frame is not JSON", "trade price is not a finite positive number: 0"]
    assert fake.connections == 2  # the first dropped, the second still open when stopped
    assert fake.subscriptions == [["AAPL", "MSFT"], ["AAPL", "MSFT"]]
    assert fake.tokens == [TOKEN, TOKEN]
    assert "reconnecting in" in output and TOKEN not in output


def test_replay_of_a_recording_gives_the_same_events(stack, pipeline_env, topic_factory, tmp_path):
    recording = tmp_path / "session.jsonl"
    live, replayed = topic_factory("live"), topic_factory("replayed")
    result = run_producer(
        pipeline_env(live),
        "--source",
        "synthetic",
        "--cycles",
        "3",
        "--interval",
        "0.1",
        "--symbols",
        "AAPL,MSFT",
        "--record",
        str(recording),
    )
    assert result.returncode == 0, result.stderr
    with recording.open("a") as handle:
        handle.write('{"id": "broken"\n')
    result = run_producer(pipeline_env(replayed), "--source", "replay", "--file", str(recording), "--speed", "0")
    assert result.returncode == 0, result.stderr
    assert "6 events published, 1 rejected" in result.stderr
    original = read_messages(stack.bootstrap_servers, live)
    again = read_messages(stack.bootstrap_servers, replayed)
    key = lambda m: (m["id"], m["symbol"], m["price"], m["volume"], m["event_time"])  # noqa: E731
    assert sorted(map(key, again)) == sorted(map(key, original))
    assert {m["source"] for m in again} == {"replay"}
    dead = read_messages(stack.bootstrap_servers, f"{replayed}-dlq")
    assert [d["raw"] for d in dead] == ['{"id": "broken"']
    assert dead[0]["reason"].startswith("line 7: Expecting ',' delimiter")


def test_csv_backfill_is_replayed_in_event_time(stack, pipeline_env, topic_factory, tmp_path):
    backfill = tmp_path / "backfill.csv"
    backfill.write_text(
        "symbol,timestamp,price,volume\n"
        "aapl,2026-11-20T14:30:00Z,231.5,100\n"
        "AAPL,1795185060,231.75,\n"
        "MSFT,1795185120000,420.0,5\n"
        "MSFT,not-a-time,1.0,1\n"
        "MSFT,1795185120000,-5,1\n"
        "AAPL,1795185180,232.0,10\n"
    )
    topic = topic_factory("csv")
    result = run_producer(pipeline_env(topic), "--source", "replay", "--file", str(backfill), "--speed", "120")
    assert result.returncode == 0, result.stderr
    records = read_records(stack.bootstrap_servers, topic)
    by_partition = {}
    for record in records:  # in offset order within each partition
        by_partition.setdefault(record.partition, []).append(json.loads(record.value)["event_time"])
    assert all(times == sorted(times) for times in by_partition.values())  # published in event-time order
    assert {r.timestamp_type for r in records} == {0}  # CreateTime: when the producer sent each
    sent = sorted((json.loads(r.value)["event_time"], r.timestamp) for r in records)
    assert [b[0] - a[0] for a, b in itertools.pairwise(sent)] == [60_000] * 3
    send_gaps_ms = [b[1] - a[1] for a, b in itertools.pairwise(sent)]
    # A minute of event time is 0.5 s at 120x; a send may wake a few ms late, and the first also
    # waits for the topic's metadata, so its gap to the next may be short.
    assert 0 <= send_gaps_ms[0] <= 600 and all(450 <= gap <= 600 for gap in send_gaps_ms[1:]), send_gaps_ms
    events = read_messages(stack.bootstrap_servers, topic)
    assert sorted((m["symbol"], m["event_time"], m["price"], m["volume"]) for m in events) == [
        ("AAPL", 1795185000000, 231.5, 100.0),
        ("AAPL", 1795185060000, 231.75, None),
        ("AAPL", 1795185180000, 232.0, 10.0),
        ("MSFT", 1795185120000, 420.0, 5.0),
    ]
    reasons = sorted(d["reason"] for d in read_messages(stack.bootstrap_servers, f"{topic}-dlq"))
    assert reasons == ["line 5: Invalid isoformat string: 'not-a-time'", "line 6: price is not positive"]


def test_synthetic_rate_publishes_about_that_many_events(stack, pipeline_env, topic_factory):
    topic = topic_factory("rate")
    result = run_producer(
        pipeline_env(topic),
        "--source",
        "synthetic",
        "--rate",
        "500",
        "--interval",
        "0.1",
        "--cycles",
        "20",
        "--seed",
        "3",
    )
    assert result.returncode == 0, result.stderr
    events = read_messages(stack.bootstrap_servers, topic)
    # The first cycle covers the interval before it, each later one the time since the one before
    # (at most an interval): 500 trades a second over that time, to the trade.
    cycle_times = sorted({m["ingested_at"] for m in events})
    covered_ms = 100 + sum(min(100, b - a) for a, b in itertools.pairwise(cycle_times))
    assert len(cycle_times) == 20
    assert len(events) == covered_ms * 500 // 1000


def test_no_source_ever_prints_the_token(stack, pipeline_env, topic_factory, tmp_path):
    replay_file = tmp_path / "r.csv"
    replay_file.write_text("AAPL,1763649000,1.5,1\n")
    runs = [["--source", "synthetic", "--cycles", "1"], ["--source", "replay", "--file", str(replay_file)]]
    with FakeFinnhub() as fake:
        env = pipeline_env(
            topic_factory("token"),
            FINNHUB_API_KEY=TOKEN,
            FINNHUB_BASE_URL=fake.base_url,
            FINNHUB_WS_URL="ws://127.0.0.1:9",
        )  # nothing listens there: errors get logged
        outputs = [run_producer(env, *args) for args in [*runs, ["--source", "finnhub", "--cycles", "1"]]]
        ws = subprocess.Popen(
            [sys.executable, "-m", "producer", "--source", "finnhub-ws"],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        seen = []
        for line in ws.stdout:  # until a failed connection has been reported
            seen.append(line)
            if "reconnecting in" in line:
                break
        ws.send_signal(signal.SIGTERM)
        rest, _ = ws.communicate(timeout=30)
        ws_output = "".join(seen) + rest
    assert all(r.returncode == 0 for r in outputs), [r.stderr for r in outputs]
    assert "reconnecting in" in ws_output
    for text in [r.stdout + r.stderr for r in outputs] + [ws_output]:
        assert TOKEN not in text


def test_an_exhausted_budget_header_pauses_the_next_call(stack, finnhub_env):
    with FakeFinnhub() as fake:
        in_3_s = lambda: int(time.time()) + 3  # noqa: E731 - Finnhub's reset: epoch seconds, set on arrival
        fake.script(
            "AAPL",
            Reply(body=json.dumps(quote(1.0)), headers={"X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": in_3_s}),
        )
        _, env = finnhub_env(fake)
        result = run_producer(env, "--source", "finnhub", "--cycles", "1", "--symbols", "AAPL,MSFT")
    assert result.returncode == 0, result.stderr
    aapl, msft = fake.requests_for("AAPL")[0], fake.requests_for("MSFT")[0]
    reset = int(aapl.headers["X-Ratelimit-Reset"])
    assert reset <= msft.wall < reset + 1  # waited for the reset (2-3 s), not a fallback second


# The per-minute limit's window, shortened through the producer's hidden test hook so that a minute's
# budget is spent and waited out in seconds; tests/unit/test_ratelimit.py proves the rule at 60 s.
MINUTE = 5.0


def test_no_window_holds_more_calls_than_the_limits_when_requests_take_varying_times(stack, finnhub_env):
    """Finnhub counts a call when it arrives: the fake holds each request on its way in for a varying
    time. 8 calls at 6 a "minute" (of MINUTE seconds) and 2 a second: the 7th waits about a minute,
    and from the server's arrival times no window of either length may hold more than its limit."""
    transits = itertools.cycle([0.3, 0.0, 0.15, 0.0, 0.05])
    with FakeFinnhub(
        default=lambda s: Reply(body=json.dumps(quote(100.0)), transit=next(transits), delay=0.05)
    ) as fake:
        topic, env = finnhub_env(fake, FINNHUB_MAX_CALLS_PER_MINUTE="6", FINNHUB_MAX_CALLS_PER_SECOND="2")
        result = run_producer(
            env,
            "--source",
            "finnhub",
            "--symbols",
            "AAPL,NVDA",
            "--cycles",
            "4",
            "--interval",
            "0.25",
            "--limit-window",
            str(MINUTE),
        )
    assert result.returncode == 0, result.stderr
    arrivals = [r.at for r in fake.requests]
    assert len(arrivals) == 8
    assert most_in_any_window(arrivals, 1.0) == 2
    assert most_in_any_window(arrivals, MINUTE) == 6
    assert arrivals[6] - arrivals[0] >= MINUTE  # the 7th waited for the minute, not only the second
    assert len(read_messages(stack.bootstrap_servers, topic)) == 8


def test_the_default_limits_hold_as_finnhub_counts_when_the_minute_binds(stack, finnhub_env):
    """30 symbols, 3 cycles: 90 calls asked within a second and a half, with the default limits
    (the minute shortened to MINUTE seconds)."""
    assert (DEFAULTS["FINNHUB_MAX_CALLS_PER_MINUTE"], DEFAULTS["FINNHUB_MAX_CALLS_PER_SECOND"]) == ("60", "30")
    symbols = [f"S{n:02d}" for n in range(30)]
    with FakeFinnhub() as fake:
        topic, env = finnhub_env(fake)
        assert not any(name.startswith("FINNHUB_MAX_CALLS") for name in env)
        result = run_producer(
            env,
            "--source",
            "finnhub",
            "--symbols",
            ",".join(symbols),
            "--cycles",
            "3",
            "--interval",
            "0.5",
            "--limit-window",
            str(MINUTE),
        )
    assert result.returncode == 0, result.stderr
    assert re.search(r"cycles? [\d-]+: \d+ ok, 0 retried, 0 rejected, 0 failed.*, \d+/60 calls", result.stderr)
    assert "stopped after 3 cycles: 90 delivered, 0 dead-lettered, 0 failed deliveries" in result.stderr
    arrivals = [r.at for r in fake.requests]
    assert len(arrivals) == 90
    assert most_in_any_window(arrivals, 1.0) == 30
    assert most_in_any_window(arrivals, MINUTE) == 60
    assert arrivals[60] - arrivals[0] >= MINUTE  # the 61st waited for the minute
    assert len(read_messages(stack.bootstrap_servers, topic)) == 90


def test_sigterm_flushes_and_loses_nothing(stack, pipeline_env, topic_factory, tmp_path):
    topic, queued = topic_factory("sigterm"), tmp_path / "queued.jsonl"
    args = ["--source", "synthetic", "--rate", "2000", "--interval", "0.2", "--record", str(queued)]
    code, output = stop_after(pipeline_env(topic), args, stack.bootstrap_servers, topic, 1000)
    assert code == 0, output
    recorded = [json.loads(line)["id"] for line in queued.read_text().splitlines()]
    in_topic = [m["id"] for m in read_messages(stack.bootstrap_servers, topic)]
    assert len(recorded) >= 1000 and len(set(recorded)) == len(recorded)
    assert len(in_topic) == len(recorded) and set(in_topic) == set(recorded)  # every message queued is there
    assert int(re.search(r"(\d+) delivered", output).group(1)) == len(recorded)
