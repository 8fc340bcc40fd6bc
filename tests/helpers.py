"""Helpers for tests that run the pipeline's processes and read Kafka back."""

from __future__ import annotations

import json
import random
import subprocess
import sys

from kafka import KafkaConsumer, TopicPartition
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

from common.contract import build_trade_message
from common.settings import REPO_ROOT
from devstack.process import free_port, port_accepts, wait_until


def run_module(module: str, *args: str, env: dict, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run `python -m module args`, capturing its output; fail the test with that output on error."""
    result = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, f"{module} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result


def start_module(module: str, *args: str, env: dict) -> subprocess.Popen:
    """`python -m module args` in the background, its output (both streams) piped as text."""
    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def start_webapp(env: dict, *args: str) -> tuple[subprocess.Popen, str]:
    """`python -m webapp` on a free port with `args`, once it accepts connections: the process (its
    output piped, as text) and its base URL. The caller stops it."""
    port = free_port()
    process = start_module("webapp", "--port", str(port), *args, env=env)
    try:
        wait_until(lambda: port_accepts("127.0.0.1", port), 60, "the webapp", alive=lambda: process.poll() is None)
    except BaseException:
        process.kill()
        process.communicate()
        raise
    return process, f"http://127.0.0.1:{port}"


def read_records(bootstrap_servers: str, topic: str) -> list:
    """Every record currently in the topic (kafka-python ConsumerRecords: partition, offset,
    timestamp, key, value), in offset order within each partition."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        end = consumer.end_offsets(partitions)
        records = []
        while any(consumer.position(p) < end[p] for p in partitions):
            for batch in consumer.poll(timeout_ms=1000).values():
                records.extend(batch)
        return records
    finally:
        consumer.close()


def read_topic(bootstrap_servers: str, topic: str) -> list[tuple[bytes | None, bytes]]:
    """Every (key, value) currently in the topic, read back from the broker."""
    return [(r.key, r.value) for r in read_records(bootstrap_servers, topic)]


def read_messages(bootstrap_servers: str, topic: str) -> list[dict]:
    """The topic's values decoded as JSON."""
    return [json.loads(value) for _, value in read_topic(bootstrap_servers, topic)]


def publish(bootstrap_servers: str, topic: str, messages, keys=None) -> None:
    """Put contract messages (dicts, keyed by symbol) or raw bytes on the topic."""
    from kafka import KafkaProducer

    from common.contract import encode_key, encode_message

    producer = KafkaProducer(bootstrap_servers=bootstrap_servers, linger_ms=20, max_request_size=1_048_576)
    for index, message in enumerate(messages):
        if isinstance(message, dict):
            key, value = encode_key(message), encode_message(message)
        else:
            key, value = None, message
        if keys is not None:
            key = keys[index]
        producer.send(topic, key=key, value=value)
    producer.flush()
    producer.close()


BASE = 1_795_168_800_000  # 2026-11-20 10:00:00 UTC
MINUTE = 60_000


def trades(count: int, seed: int, minutes: int = 12) -> list[dict]:
    """Trades of three symbols over `minutes` of event time, some resent (same id)."""
    rng = random.Random(seed)
    events = []
    for n in range(count):
        symbol = rng.choice(["AAPL", "MSFT", "NVDA"])
        event_time = BASE + rng.randrange(0, minutes * MINUTE, 100)
        events.append(
            build_trade_message(
                message_id=f"{symbol}-{seed}-{n}",
                symbol=symbol,
                price=round(rng.uniform(90, 110), 2),
                volume=float(rng.randint(1, 500)) if rng.random() < 0.8 else None,
                event_time_ms=event_time,
                source="replay",
                ingested_at_ms=event_time + 50,
            )
        )
    return events + rng.sample(events, count // 20)


def most_in_any_window(times: list[float], seconds: float) -> int:
    """The largest number of moments in any half-open window [t, t + seconds)."""
    return max(sum(1 for u in times if t <= u < t + seconds) for t in times)


def read_write(engine: Engine) -> Engine:
    """A plain engine of `engine`'s role (its URL) whose transactions may write: the webapp's own
    sessions are read-only, so a write refused through this one is refused by the role's grants."""
    return create_engine(engine.url)
