"""Serving the app with granian: HTTP handled in Rust, one worker process per core, each calling the
Flask app from a few threads. So requests are not queued behind one Python process, and a request
costs Python only the app's own work (gunicorn's HTTP handling in Python cost about 0.4 ms of CPU per
request, ten times a kept answer's)."""

from __future__ import annotations

import os
import socket

from flask import Flask
from granian.constants import Interfaces
from granian.log import LogLevels
from granian.server import Server

THREADS_PER_WORKER = 4  # requests wait on Postgres part of the time; more threads only contend for the GIL
STOP_SECONDS = 10  # on SIGTERM, requests in flight get this long
BACKLOG = 2048
# granian's own lines (warnings and errors only) go through the root logger, in the same format as ours
GRANIAN_LOGGING = {
    "loggers": {"_granian": {"handlers": [], "propagate": True}, "granian.access": {"handlers": [], "propagate": False}}
}


def default_workers() -> int:
    """One worker per core this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def check_port_free(host: str, port: int) -> None:
    """OSError when host:port is taken or not ours: one clear line before granian starts any worker."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    socket.create_server((host, port), family=family).close()


def serve(app: Flask, host: str, port: int, workers: int) -> None:
    """Serve `app` until SIGTERM or SIGINT, then let requests in flight finish. The workers are forked
    from this process, so they take the app built here (SystemExit(1) when a worker died)."""
    server = Server(
        target="webapp",  # only named in granian's lines: the workers take `app` from worker_app
        address=host,
        port=port,
        interface=Interfaces.WSGI,
        workers=workers,
        blocking_threads=THREADS_PER_WORKER,
        backlog=BACKLOG,
        workers_kill_timeout=STOP_SECONDS,
        log_level=LogLevels.warning,  # our own lines say when it serves and when it stopped
        log_dictconfig=GRANIAN_LOGGING,
    )
    server.serve(target_loader=lambda: worker_app(app), wrap_loader=False)


def worker_app(app: Flask) -> Flask:
    """The app in a new worker, which must not share the parent's database connections (it has none
    yet, but be sure)."""
    app.extensions["db_engine"].dispose(close=False)
    return app
