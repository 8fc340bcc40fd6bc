"""Small process helpers shared by the Kafka and Postgres launchers."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path


class StackError(RuntimeError):
    """A stack component could not be started or stopped; the message says what to do."""


def port_accepts(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections at host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(condition, timeout: float, what: str, interval: float = 0.2, alive=None):
    """Poll `condition` until it returns something true, and return that; fail with `what` after
    `timeout` or when `alive()` turns false."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if alive is not None and not alive():
            raise StackError(f"{what}: the process exited")
        time.sleep(interval)
    raise StackError(f"{what}: not ready after {timeout:.0f} s")


def read_pid(pid_file: Path) -> int | None:
    """The pid in `pid_file` when that process is still alive, else None."""
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def terminate(pid: int, timeout: float = 30.0) -> None:
    """SIGTERM a process and wait for it to exit, SIGKILL after `timeout`."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return
        time.sleep(0.2)
    os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)
        if finished == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def is_port_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when `port` can be bound right now."""
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def free_kafka_port(host: str = "127.0.0.1") -> int:
    """A free port whose next one is free too: a Kafka node's controller listens there."""
    port = free_port(host)
    while not is_port_free(port + 1, host):
        port = free_port(host)
    return port
