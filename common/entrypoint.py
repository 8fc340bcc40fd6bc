"""How each process starts (`python -m producer`, `streaming`, `webapp`, `devstack demo`): its lines
in one format, the chatty libraries quieted, and a stop event set by SIGINT or SIGTERM."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping

from common.signals import StopSignals

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(quiet: Mapping[str, int] | None = None) -> None:
    """Our lines on stderr from INFO; each library logger of `quiet` only from the level given."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    for name, level in (quiet or {}).items():
        logging.getLogger(name).setLevel(level)


def stop_on_signals(stopping: str, on_force: Callable[[], None] | None = None) -> tuple[threading.Event, StopSignals]:
    """An event the first SIGINT or SIGTERM sets (logging `stopping`), and its installed handlers;
    a second signal calls `on_force` and exits at once (common.signals)."""
    stop = threading.Event()
    signals = StopSignals(stop.set, stopping, on_force)
    signals.install()
    return stop, signals
