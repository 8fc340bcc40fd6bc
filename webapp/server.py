"""Serving the app with gunicorn: one worker process per core (each with a few threads), so requests
are not queued behind one Python process. The socket is bound here first, so a taken port is one
clear line, not gunicorn's retries."""

from __future__ import annotations

import os
import socket

from flask import Flask
from gunicorn.app.base import BaseApplication

THREADS_PER_WORKER = 4  # requests wait on Postgres part of the time; more threads only contend for the GIL


def default_workers() -> int:
    """One worker per core this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (OSError when the address is taken or not ours)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family, backlog=2048, reuse_port=False)


class GunicornServer(BaseApplication):
    """gunicorn's master and workers around an app built before the fork."""

    def __init__(self, app: Flask, listener: socket.socket, workers: int):
        self.application = app
        self.options = {
            "bind": [f"fd://{listener.fileno()}"],
            "workers": workers,
            "worker_class": "gthread",
            "threads": THREADS_PER_WORKER,
            "graceful_timeout": 10,  # on SIGTERM, requests in flight get this long
            "keepalive": 5,
            "accesslog": None,
            "loglevel": "warning",  # our own lines say when it serves and when it stopped
            "control_socket_disable": True,  # several instances may run side by side (tests, bench)
            "post_fork": self.post_fork,
            "proc_name": "webapp",
        }
        self.listener = listener
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.application

    def post_fork(self, _server, _worker) -> None:
        """A worker must not share the master's database connections (it has none yet, but be sure)."""
        self.application.extensions["db_engine"].dispose(close=False)
