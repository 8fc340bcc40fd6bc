"""The producer's log: kafka-python's connection errors as one line each, our own errors whole; progress
lines for short cycles at most every QUIET_LOG_SECONDS, every cycle for long ones."""

import io
import logging
import sys

import pytest

from producer.__main__ import without_kafka_client_traceback
from producer.loop import QUIET_LOG_SECONDS, describe_cycles, should_log_cycles
from producer.source import CycleResult


def error_record(logger_name: str) -> logging.LogRecord:
    try:
        raise ConnectionResetError(104, "Connection reset by peer")
    except ConnectionResetError:
        exc_info = sys.exc_info()
    return logging.LogRecord(logger_name, logging.ERROR, __file__, 1, "Abort", None, exc_info)


def through_the_filter(record: logging.LogRecord) -> str:
    """What a handler with the producer's filter writes for `record`."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(without_kafka_client_traceback)
    handler.handle(record)
    return stream.getvalue()


def test_kafka_client_errors_keep_their_line_and_lose_the_traceback():
    record = error_record("kafka.net.transport")
    assert through_the_filter(record) == "Abort\n"
    assert record.exc_info is None


def test_our_own_errors_keep_their_traceback():
    record = error_record("producer.loop")
    output = through_the_filter(record)
    assert output.startswith("Abort\nTraceback (most recent call last):\n")
    assert output.endswith("ConnectionResetError: [Errno 104] Connection reset by peer\n")
    assert record.exc_info is not None


@pytest.mark.parametrize(
    "interval, since_last_line, finished, expected",
    [
        (1.0, 0.0, False, False),  # make demo's cycles: quiet...
        (1.0, QUIET_LOG_SECONDS - 0.01, False, False),
        (1.0, QUIET_LOG_SECONDS, False, True),  # ...one line every 10 s
        (0.01, 3.0, True, True),  # the last cycle always has its line
        (QUIET_LOG_SECONDS - 0.5, 9.5, False, False),
        (QUIET_LOG_SECONDS, 0.0, False, True),  # long cycles (Finnhub's 60 s): every one
        (60.0, 0.0, False, True),
    ],
)
def test_when_cycles_get_a_progress_line(interval, since_last_line, finished, expected):
    assert should_log_cycles(interval, since_last_line, finished) is expected


def test_progress_lines_name_one_cycle_or_the_run_of_them():
    result = CycleResult(published=80, retried=1)
    assert describe_cycles(12, 12, result, 0.414) == "cycle 12: 80 ok, 1 retried, 0 rejected, 0 failed in 0.41 s"
    assert (
        describe_cycles(3, 12, result, 0.414) == "cycles 3-12: 80 ok, 1 retried, 0 rejected, 0 failed (slowest 0.41 s)"
    )
