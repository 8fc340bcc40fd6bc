"""A fast load generator for the benchmarks only: synthetic trades published by several processes
with confluent-kafka (librdkafka), so the generator is never what limits a measured rate."""

from __future__ import annotations

import multiprocessing
import time

from confluent_kafka import Producer
from kafka.partitioner.default import murmur2

from common.contract import encode_key, encode_message, epoch_ms
from common.settings import DEFAULT_SYMBOLS
from common.topics import TOPIC_PARTITIONS
from producer.synthetic import SyntheticMarket

SYMBOLS = DEFAULT_SYMBOLS  # the demo's tickers
BACKLOG_START_MS = 1_795_168_800_000  # 2026-11-20 10:00:00 UTC: a fixed event time, so runs compare
HOUR_MS = 3_600_000


def partition_of(symbol: str, partitions: int = TOPIC_PARTITIONS) -> int:
    """The partition Kafka's default (murmur2) partitioner gives a symbol key, as the producer does."""
    return (murmur2(symbol.encode("utf-8")) & 0x7FFFFFFF) % partitions


def partition_groups(symbols=SYMBOLS, partitions: int = TOPIC_PARTITIONS) -> list[tuple[str, ...]]:
    """The symbols of each non-empty partition: one generator process per partition keeps every
    partition in event-time order, as the pipeline's single producer does."""
    groups: dict[int, list[str]] = {}
    for symbol in symbols:
        groups.setdefault(partition_of(symbol, partitions), []).append(symbol)
    return [tuple(groups[p]) for p in sorted(groups)]


def worker_symbols(workers: int, index: int, symbols=SYMBOLS) -> tuple[str, ...]:
    """The symbols one live-load process owns: each symbol's events come from one process, in order."""
    return tuple(symbols[index::workers])


def backlog_messages(symbols, count: int, seed: int, span_ms: int = HOUR_MS, start_ms: int = BACKLOG_START_MS):
    """`count` trades spread evenly over `symbols` and `span_ms` of event time; the same arguments give
    the same messages (ingested_at aside), so a reference can regenerate what was published."""
    market = SyntheticMarket(symbols, seed=seed)
    per_symbol = max(count // len(symbols), 1)
    step = span_ms / per_symbol
    produced = 0
    for j in range(per_symbol):
        for k, symbol in enumerate(symbols):
            if produced == count:
                return
            event_time = start_ms + int(j * step) + k  # symbols never share a millisecond
            yield market.next_trade(symbol, event_time, epoch_ms())
            produced += 1


def kafka_producer(bootstrap_servers: str, compression: str) -> Producer:
    """A librdkafka producer tuned for throughput, with acks=all like the pipeline's producer."""
    return Producer(
        {
            "bootstrap.servers": bootstrap_servers,
            "acks": "all",
            "linger.ms": 50,
            "batch.size": 1_000_000,
            "compression.type": compression,
            "partitioner": "murmur2_random",  # the Java client's (and kafka-python's) placement of keys
            "queue.buffering.max.messages": 500_000,
        }
    )


def _send(producer: Producer, topic: str, message: dict) -> None:
    while True:
        try:
            producer.produce(topic, key=encode_key(message), value=encode_message(message))
            return
        except BufferError:  # the local queue is full: let librdkafka deliver some first
            producer.poll(0.05)


def _publish_backlog(args) -> int:
    bootstrap_servers, topic, symbols, count, seed, span_ms, compression = args
    producer = kafka_producer(bootstrap_servers, compression)
    sent = 0
    for message in backlog_messages(symbols, count, seed, span_ms):
        _send(producer, topic, message)
        sent += 1
    if producer.flush(120) != 0:
        raise RuntimeError("the load generator could not deliver everything within 120 s")
    return sent


def backlog_plan(count: int, seed: int, span_ms: int) -> list[tuple]:
    """(symbols, count, seed, span_ms) of each generator process, one per partition; `count` events in all."""
    return [
        (symbols, count * len(symbols) // len(SYMBOLS), seed + index, span_ms)
        for index, symbols in enumerate(partition_groups())
    ]


def plan_messages(plan) -> list[dict]:
    """Every message a backlog plan publishes, regenerated for the reference computation."""
    return [m for symbols, count, seed, span_ms in plan for m in backlog_messages(symbols, count, seed, span_ms)]


def publish_backlog(bootstrap_servers: str, topic: str, plan, compression: str = "lz4") -> dict:
    """Publish a backlog plan with one process per entry; events, seconds and the generator's rate."""
    started = time.monotonic()
    jobs = [(bootstrap_servers, topic, *entry, compression) for entry in plan]
    with multiprocessing.get_context("spawn").Pool(len(jobs)) as pool:
        sent = sum(pool.map(_publish_backlog, jobs))
    seconds = time.monotonic() - started
    return {"events": sent, "seconds": seconds, "events_per_second": sent / seconds, "compression": compression}


def _publish_paced(args) -> int:
    bootstrap_servers, topic, symbols, rate, seconds, seed = args
    producer = kafka_producer(bootstrap_servers, "lz4")
    market = SyntheticMarket(symbols, seed=seed)
    started = time.monotonic()
    sent = 0
    while (elapsed := time.monotonic() - started) < seconds:
        due = int(rate * elapsed)
        now = epoch_ms()
        for n in range(sent, due):
            _send(producer, topic, market.next_trade(symbols[n % len(symbols)], now, now))
        sent = max(sent, due)
        producer.poll(0)
        time.sleep(0.005)  # a pacing tick, not a wait for a condition
    producer.flush(60)
    return sent, time.monotonic() - started


def publish_paced(bootstrap_servers: str, topic: str, rate: float, seconds: float, workers: int = 2) -> dict:
    """Publish live trades (event time = now) at `rate` events/s for `seconds`; the rate achieved."""
    jobs = [(bootstrap_servers, topic, worker_symbols(workers, i), rate / workers, seconds, i) for i in range(workers)]
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        done = pool.map(_publish_paced, jobs)
    sent, elapsed = sum(n for n, _ in done), max(s for _, s in done)  # the processes' own time, not start-up
    return {"events": sent, "seconds": elapsed, "events_per_second": sent / elapsed, "target_rate": rate}
