"""Stopping on SIGINT or SIGTERM: the first asks the process to stop cleanly, a second exits at once."""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable

log = logging.getLogger(__name__)

FORCED_EXIT_CODE = 130  # what a shell reports for a process ended by Ctrl-C


class StopSignals:
    """SIGINT and SIGTERM call `on_stop` once; the next one logs a line, calls `on_force` (what must not
    outlive us, such as child processes) and exits without cleaning up."""

    def __init__(
        self, on_stop: Callable[[], None], stopping: str = "stopping", on_force: Callable[[], None] | None = None
    ):
        self._on_stop = on_stop
        self._stopping = stopping
        self._on_force = on_force
        self.received = 0

    def install(self) -> None:
        """Handle both signals here (again after a library replaced a handler, as pyspark does for SIGINT)."""
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._handle)

    def stopping(self) -> None:
        """We are stopping anyway (not through a signal): the next signal exits at once."""
        self.received = max(self.received, 1)

    def _handle(self, signum, _frame) -> None:
        self.received += 1
        if self.received > 1:
            log.warning("second signal: exiting now")
            if self._on_force is not None:
                self._on_force()
            os._exit(FORCED_EXIT_CODE)
        log.info("%s: %s; a second signal exits at once", signal.Signals(signum).name, self._stopping)
        self._on_stop()
