"""The producer publishing into the real broker: contract messages, keyed by symbol."""

import json
import subprocess
import sys

from common.contract import message_problem
from tests.helpers import read_topic, run_module


def test_synthetic_producer_publishes_contract_messages(stack, topic_factory, pipeline_env):
    topic = topic_factory("producer")
    result = run_module(
        "producer",
        "--source",
        "synthetic",
        "--cycles",
        "3",
        "--interval",
        "0.1",
        "--symbols",
        "aapl,MSFT",
        "--seed",
        "1",
        env=pipeline_env(topic),
    )
    assert "stopped after 3 cycles: 6 delivered" in result.stderr
    records = read_topic(stack.bootstrap_servers, topic)
    assert len(records) == 6
    messages = [json.loads(value) for _, value in records]
    assert all(message_problem(m) is None for m in messages)
    assert {key for key, _ in records} == {b"AAPL", b"MSFT"}
    assert all(key.decode() == m["symbol"] for (key, _), m in zip(records, messages, strict=True))
    assert len({m["id"] for m in messages}) == 6


def test_finnhub_source_without_a_key_points_at_synthetic(pipeline_env, topic_factory):
    result = subprocess.run(
        [sys.executable, "-m", "producer", "--source", "finnhub", "--cycles", "1"],
        env=pipeline_env(topic_factory("nokey")),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--source synthetic" in result.stderr
    assert "Traceback" not in result.stderr
