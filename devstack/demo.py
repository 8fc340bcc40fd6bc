"""`make demo`: the stack and the three processes in one terminal, each restarted with backoff when it
exits; Ctrl-C stops all of it, a second Ctrl-C at once."""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time

from common.entrypoint import stop_on_signals
from common.settings import REPO_ROOT

log = logging.getLogger("demo")

WEB_HOST, WEB_PORT = "127.0.0.1", 5000
# Waits before the 1st, 2nd, ... restart of a child that keeps exiting; one more exit stops the demo.
RESTART_DELAYS = (1.0, 2.0, 5.0, 10.0, 20.0)
# A child that ran this long since its last start has recovered: its count of restarts starts again.
STABLE_SECONDS = 120.0
STOP_TIMEOUT = 60.0


def demo_commands(web_port: int = WEB_PORT) -> dict[str, list[str]]:
    """The three processes of the demo, in start order."""
    return {
        "producer": [sys.executable, "-m", "producer"],
        "streaming": [sys.executable, "-m", "streaming"],
        "webapp": [sys.executable, "-m", "webapp", "--host", WEB_HOST, "--port", str(web_port)],
    }


def restart_delay(restarts: int) -> float | None:
    """Seconds to wait before the next restart of a child restarted `restarts` times in a row; None: give up."""
    return RESTART_DELAYS[restarts] if restarts < len(RESTART_DELAYS) else None


class Child:
    """One process of the demo, its output relayed line by line behind its name."""

    def __init__(self, name: str, command: list[str]):
        self.name = name
        self.command = command
        self.process: subprocess.Popen | None = None
        self.started_at = 0.0
        self.restarts = 0  # in a row, since the child last ran for STABLE_SECONDS
        self.restart_at: float | None = None
        self.last_lines: collections.deque[str] = collections.deque(maxlen=3)

    def start(self) -> None:
        """Start (or restart) the process."""
        self.process = subprocess.Popen(
            self.command,
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,  # Ctrl-C reaches us only; we stop the children in order
        )
        self.started_at = time.monotonic()
        self.restart_at = None
        threading.Thread(target=self._relay, args=(self.process.stdout,), daemon=True).start()
        log.info("%s started (pid %d)", self.name, self.process.pid)

    def _relay(self, stream) -> None:
        for line in stream:
            self.last_lines.append(line.rstrip())
            # Keep draining even when our own output is gone (a closed pipe): a child that cannot
            # write its logs cannot shut down.
            try:
                sys.stdout.write(f"[{self.name:9}] {line}")
                sys.stdout.flush()
            except (OSError, ValueError):
                pass

    def running(self) -> bool:
        """True while the process runs."""
        return self._running_process() is not None

    def _running_process(self) -> subprocess.Popen | None:
        return self.process if self.process is not None and self.process.poll() is None else None

    def exit_code(self) -> int | None:
        """The process's exit code, None while it runs or before it started."""
        return None if self.process is None else self.process.poll()

    def last_words(self) -> str:
        """The child's last line of output, to say why it stopped."""
        return self.last_lines[-1] if self.last_lines else "no output"

    def stop(self) -> None:
        """Ask the process to stop (SIGTERM): it finishes what it is doing."""
        if process := self._running_process():
            process.send_signal(signal.SIGTERM)

    def wait(self, timeout: float) -> None:
        """Wait for the process to exit; kill it after `timeout`."""
        if self.process is None:
            return
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop in time; killing it", self.name)
            self.kill()

    def kill(self) -> None:
        """SIGKILL the process and anything it started (the streaming job's JVM)."""
        if process := self._running_process():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)


class Supervisor:
    """Keeps the children running: an exit is reported in one line and restarted with backoff."""

    def __init__(self, commands: dict[str, list[str]]):
        self.children = [Child(name, command) for name, command in commands.items()]
        self.failure: str | None = None

    def start(self) -> None:
        """Start every child."""
        for child in self.children:
            child.start()

    def check(self, now: float) -> bool:
        """Restart children that exited, when their wait is over; False once one failed too often."""
        for child in self.children:
            if child.restart_at is not None:
                if now >= child.restart_at:
                    child.start()
                continue
            if child.running():
                if now - child.started_at >= STABLE_SECONDS:
                    child.restarts = 0
                continue
            code = child.exit_code()
            delay = restart_delay(child.restarts)
            if delay is None:
                self.failure = (
                    f"{child.name} exited {len(RESTART_DELAYS) + 1} times in a row "
                    f"(last: exit code {code}, {child.last_words()!r})"
                )
                return False
            child.restarts += 1
            child.restart_at = now + delay
            log.warning(
                "%s exited with code %s (%s); restarting in %.0f s (restart %d of %d)",
                child.name,
                code,
                child.last_words(),
                delay,
                child.restarts,
                len(RESTART_DELAYS),
            )
        return True

    def stop(self) -> None:
        """Stop the children in reverse order, each given time to finish its work."""
        for child in reversed(self.children):
            child.stop()
        for child in self.children:
            child.wait(STOP_TIMEOUT)

    def kill(self) -> None:
        """Kill every child at once."""
        for child in self.children:
            child.kill()


def run_demo(stack, web_port: int = WEB_PORT) -> int:
    """Start the stack and the processes, print the URL, keep them running until Ctrl-C."""
    stack.up()
    supervisor = Supervisor(demo_commands(web_port))
    # The first Ctrl-C stops the children in order; a second kills them and exits at once.
    stop, signals = stop_on_signals("stopping the demo", on_force=supervisor.kill)
    try:
        supervisor.start()
        log.info(
            "open http://%s:%d/ (aggregates appear within seconds; candles fill in as minutes pass)", WEB_HOST, web_port
        )
        log.info("press Ctrl-C to stop everything (twice: at once)")
        while not stop.wait(0.5):
            if not supervisor.check(time.monotonic()):
                log.error("stopping the demo: %s", supervisor.failure)
                return 1
        return 0
    finally:
        signals.stopping()  # a Ctrl-C while the children stop kills them at once
        log.info("stopping the demo")
        supervisor.stop()
        stack.down()
