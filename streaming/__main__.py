"""`python -m streaming`: windowed aggregates of the Kafka topic, upserted into Postgres."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from kafka.errors import KafkaError

from common import flags
from common.entrypoint import configure_logging, stop_on_signals
from common.servers import ServerUnreachable, require_kafka, require_postgres
from common.settings import SettingsError, load_settings
from common.topics import ensure_topics
from streaming.durations import duration_seconds, parse_duration
from streaming.graceful_stop import BatchesBegun, stop_between_batches
from streaming.job import JobOptions, start_query
from streaming.progress import BatchReport
from streaming.session import build_spark_session

log = logging.getLogger("streaming")
PROGRESS_POLL_SECONDS = 0.2  # how often the main thread looks for finished batches to log


def durations(text: str) -> tuple[str, ...]:
    """argparse type: comma-separated durations, each like '1 minute', without blanks; a size given twice
    ('1 minute,60 seconds') counts once, in its first spelling."""
    parts = text.split(",")
    if any(not part.strip() for part in parts):
        raise argparse.ArgumentTypeError(f"expected durations like '1 minute,5 minutes', got {text!r}")
    by_length: dict[float, str] = {}
    for part in parts:
        size = duration(part)
        by_length.setdefault(duration_seconds(size), size)
    return tuple(by_length.values())


def duration(text: str, allow_zero: bool = False, allow_milliseconds: bool = False) -> str:
    """argparse type: one duration like '2 minutes' (a list is not one)."""
    try:
        return parse_duration(text, allow_zero=allow_zero, allow_milliseconds=allow_milliseconds)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def trigger(text: str) -> str:
    """argparse type: one duration, in milliseconds too; '0 seconds' runs batches back to back."""
    return duration(text, allow_zero=True, allow_milliseconds=True)


def parse_args(argv) -> JobOptions:
    """The command line as JobOptions."""
    defaults = JobOptions()
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
    parser.add_argument("--max-offsets-per-trigger", type=flags.positive_int, help="cap on records per micro-batch")
    parser.add_argument(
        "--progress-log",
        type=Path,
        metavar="FILE",
        help="also append each micro-batch's query progress (Spark's JSON: durations, state, offsets) to FILE",
    )
    args = parser.parse_args(argv)
    return JobOptions(
        windows=args.windows,
        watermark=args.watermark,
        trigger=args.trigger,
        available_now=args.available_now,
        max_offsets_per_trigger=args.max_offsets_per_trigger,
        progress_log=args.progress_log,
    )


def main(argv=None) -> int:
    """Entry point: exit 0 when stopped or done, 1 when a query failed or a server is missing, 2 on bad settings."""
    configure_logging({"py4j": logging.WARNING, "kafka": logging.WARNING})
    options = parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        log.error("%s", exc)
        return 2
    stop, stop_signals = stop_on_signals("stopping after the batch in flight")
    # Before the Spark session, which takes seconds to start: a missing server is one line.
    try:
        require_kafka(settings.kafka_bootstrap_servers)
        require_postgres(settings.database_url)
        # Reading a topic that does not exist yet would fail the queries: the job may start first.
        ensure_topics(settings.kafka_bootstrap_servers, [settings.kafka_topic])
    except ServerUnreachable as exc:
        log.error("%s", exc)
        return 1
    except KafkaError as exc:
        log.error("Kafka at %s is not usable: %s", settings.kafka_bootstrap_servers, exc)
        return 1

    log.info("starting Spark")
    spark = build_spark_session()
    # pyspark has replaced our SIGINT handler with one that cancels every running job.
    stop_signals.install()
    log.info(
        "reading %s from %s; windows %s, watermark %s, %s",
        settings.kafka_topic,
        settings.kafka_bootstrap_servers,
        ", ".join(options.windows),
        options.watermark,
        "until caught up" if options.available_now else f"trigger every {options.trigger}",
    )
    report, begun = BatchReport(options.progress_log), BatchesBegun()
    query = start_query(spark, settings, options, report, begun)
    try:
        while not stop.is_set() and query.isActive and query.exception() is None:
            stop.wait(PROGRESS_POLL_SECONDS)
            report.poll(query)
    finally:
        stop_between_batches(spark, query, begun)
        report.poll(query)
    failure = query.exception()
    if failure is not None:
        log.error("query %s failed: %s", query.name, str(failure).splitlines()[0])
    spark.stop()
    log.info("stopped" if failure is None else "stopped after a failure")
    return 1 if failure is not None else 0


if __name__ == "__main__":
    sys.exit(main())
