"""`make demo`: the stack and the three processes in one terminal; Ctrl-C stops all of it."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading

from common.settings import REPO_ROOT

log = logging.getLogger("demo")

WEB_HOST, WEB_PORT = "127.0.0.1", 5000
PROCESSES = {
    "producer": [sys.executable, "-m", "producer"],
    "streaming": [sys.executable, "-m", "streaming"],
    "webapp": [sys.executable, "-m", "webapp", "--host", WEB_HOST, "--port", str(WEB_PORT)],
}


def _relay(name: str, stream) -> None:
    """Copy a child's output to ours, each line prefixed with the child's name."""
    for line in stream:
        # Keep draining even when our own output is gone (a closed pipe): a child that cannot
        # write its logs cannot shut down.
        try:
            sys.stdout.write(f"[{name:9}] {line}")
            sys.stdout.flush()
        except (OSError, ValueError):
            pass


def run_demo(stack) -> int:
    """Start the stack and the processes, print the URL, and wait for Ctrl-C or a crash."""
    stack.up()
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    children: dict[str, subprocess.Popen] = {}
    try:
        for name, command in PROCESSES.items():
            child = subprocess.Popen(
                command,
                cwd=REPO_ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                text=True,
                start_new_session=True,  # Ctrl-C reaches us only; we stop the children in order
            )
            children[name] = child
            threading.Thread(target=_relay, args=(name, child.stdout), daemon=True).start()
        log.info("open http://%s:%d/ (aggregates appear after the first minute closes)", WEB_HOST, WEB_PORT)
        log.info("press Ctrl-C to stop everything")
        while not stop.wait(1.0):
            crashed = [n for n, c in children.items() if c.poll() is not None]
            if crashed:
                log.error("%s exited; stopping the demo", ", ".join(crashed))
                return 1
        return 0
    finally:
        log.info("stopping the demo")
        for name, child in reversed(children.items()):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for name, child in children.items():
            try:
                child.wait(timeout=60)
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in time; killing it", name)
                child.kill()
        stack.down()
