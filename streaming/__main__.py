"""`python -m streaming`: windowed aggregates of the Kafka topic, upserted into Postgres."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time

from common.settings import SettingsError, load_settings
from common.topics import ensure_topics
from streaming.job import JobOptions, parse_duration, start_queries
from streaming.session import build_spark_session

log = logging.getLogger("streaming")


def parse_args(argv) -> JobOptions:
    """The command line as JobOptions."""
    defaults = JobOptions()

    def durations(text):
        try:
            return tuple(dict.fromkeys(parse_duration(part) for part in text.split(",") if part.strip()))
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    def duration(text):
        return durations(text)[0]

    def trigger(text):
        try:
            return parse_duration(text, allow_zero=True)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parser = argparse.ArgumentParser(prog="python -m streaming", description=__doc__)
    parser.add_argument(
        "--windows",
        type=durations,
        default=defaults.windows,
        help="comma-separated tumbling window sizes (default: '1 minute,5 minutes')",
    )
    parser.add_argument(
        "--watermark",
        type=duration,
        default=defaults.watermark,
        help=f"how late an event may arrive and still count (default: '{defaults.watermark}')",
    )
    parser.add_argument(
        "--trigger",
        type=trigger,
        default=defaults.trigger,
        help=f"micro-batch interval; '0 seconds' runs batches back to back (default: '{defaults.trigger}')",
    )
    parser.add_argument(
        "--available-now",
        action="store_true",
        help="process everything in the topic now, then exit",
    )
    parser.add_argument("--max-offsets-per-trigger", type=int, help="cap on records per micro-batch")
    args = parser.parse_args(argv)
    return JobOptions(
        windows=args.windows,
        watermark=args.watermark,
        trigger=args.trigger,
        available_now=args.available_now,
        max_offsets_per_trigger=args.max_offsets_per_trigger,
    )


def stop_after_batch(query, timeout: float = 120.0) -> None:
    """Stop a query between micro-batches, so the batch in flight is written, not interrupted."""
    deadline = time.monotonic() + timeout
    while query.isActive and query.status["isTriggerActive"] and time.monotonic() < deadline:
        time.sleep(0.05)
    query.stop()


def main(argv=None) -> int:
    """Entry point: exit 0 when stopped or done, 1 when a query failed, 2 on bad configuration."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("py4j").setLevel(logging.WARNING)
    options = parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        log.error("%s", exc)
        return 2

    spark = build_spark_session()
    # After the session: pyspark installs a SIGINT handler that cancels every running job.
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    log.info(
        "reading %s from %s; windows %s, watermark %s, %s",
        settings.kafka_topic,
        settings.kafka_bootstrap_servers,
        ", ".join(options.windows),
        options.watermark,
        "until caught up" if options.available_now else f"trigger every {options.trigger}",
    )
    # Reading a topic that does not exist yet would fail the queries: the job may start first.
    ensure_topics(settings.kafka_bootstrap_servers, [settings.kafka_topic])
    queries = start_queries(spark, settings, options)
    try:
        while not stop.is_set() and any(q.isActive for q in queries):
            stop.wait(0.5)
            if any(q.exception() is not None for q in queries):
                break
    finally:
        for query in queries:
            stop_after_batch(query)
    failed = [q for q in queries if q.exception() is not None]
    for query in failed:
        log.error("query %s failed: %s", query.name, str(query.exception()).splitlines()[0])
    spark.stop()
    log.info("stopped" if not failed else "stopped after a failure")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
