"""The producer's log: kafka-python's connection errors as one line each, our own errors whole."""

import logging
import sys

from producer.__main__ import without_kafka_client_traceback


def error_record(logger_name: str) -> logging.LogRecord:
    try:
        raise ConnectionResetError(104, "Connection reset by peer")
    except ConnectionResetError:
        exc_info = sys.exc_info()
    return logging.LogRecord(logger_name, logging.ERROR, __file__, 1, "Abort", None, exc_info)


def test_kafka_client_errors_keep_their_line_and_lose_the_traceback():
    record = error_record("kafka.net.transport")
    assert without_kafka_client_traceback(record)
    assert record.exc_info is None
    assert logging.Formatter().format(record) == "Abort"


def test_our_own_errors_keep_their_traceback():
    record = error_record("producer.loop")
    assert without_kafka_client_traceback(record)
    assert "Traceback" in logging.Formatter().format(record)
