"""SIGINT and SIGTERM are one stop request, through one handler (common.signals, common.entrypoint)."""

import logging
import os
import signal

import pytest

from common.entrypoint import stop_on_signals

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@pytest.fixture
def restore_handlers():
    """Put the handlers pytest had back after the test."""
    saved = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


@pytest.mark.parametrize("signum", STOP_SIGNALS, ids=lambda signum: signal.Signals(signum).name)
def test_either_signal_is_the_same_stop_request(restore_handlers, caplog, signum):
    caplog.set_level(logging.INFO)
    stop, signals = stop_on_signals("finishing up")
    assert signal.getsignal(signal.SIGINT) == signal.getsignal(signal.SIGTERM)  # one handler for both
    signals.install()  # installed again (after pyspark took SIGINT over): still that one handler
    assert signal.getsignal(signal.SIGINT) == signal.getsignal(signal.SIGTERM)
    os.kill(os.getpid(), signum)  # the handler runs in this thread before the next line
    assert stop.wait(5)
    assert signals.received == 1
    assert f"{signal.Signals(signum).name}: finishing up; a second signal exits at once" in caplog.text
