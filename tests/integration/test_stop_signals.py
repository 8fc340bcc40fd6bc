"""A first SIGTERM or Ctrl-C asks a process to stop cleanly; a second one ends it at once, with one line
and exit code 130, even while the first is still being honoured (a slow call, Spark starting)."""

from __future__ import annotations

import dataclasses
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from common.settings import REPO_ROOT
from common.signals import FORCED_EXIT_CODE
from devstack.process import wait_until
from tests.fakes.finnhub_http import FakeFinnhub, json_reply, quote

PROMPT_EXIT_SECONDS = 5.0


class Running:
    """`python -m module` with its output collected line by line while it runs."""

    def __init__(self, module: str, env: dict, *args: str):
        self.process = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            stdin=subprocess.PIPE,  # like a terminal: pyspark's JVM watches the driver's stdin, not ours
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=lambda: self.lines.extend(self.process.stdout), daemon=True)
        self._reader.start()

    def wait_for_line(self, text: str, timeout: float) -> None:
        wait_until(
            lambda: any(text in line for line in self.lines),
            timeout,
            repr(text),
            alive=lambda: self.process.poll() is None,
        )

    def children(self) -> list[int]:
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in path.read_text().split()] if path.exists() else []

    def output(self) -> str:
        self._reader.join(timeout=10)
        return "".join(self.lines)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def assert_second_signal_exits_at_once(running: Running, signum: int, first_line: str) -> None:
    """The first signal is being honoured (its line is out, the process lives on); the second ends it now."""
    running.process.send_signal(signum)
    running.wait_for_line(first_line, 30)
    assert running.process.poll() is None, running.output()
    children = running.children()
    sent = time.monotonic()
    running.process.send_signal(signum)
    code = running.process.wait(timeout=30)
    took = time.monotonic() - sent
    output = running.output()
    assert code == FORCED_EXIT_CODE, output
    assert took < PROMPT_EXIT_SECONDS, f"{took:.1f} s"
    assert "second signal: exiting now" in output
    assert "Traceback" not in output
    wait_until(lambda: not any(Path(f"/proc/{pid}").exists() for pid in children), 30, "the children exit")


def test_a_second_sigterm_ends_the_producer_during_a_slow_call(stack, pipeline_env, topic_factory):
    slow_quote = dataclasses.replace(json_reply(quote(100.0)), delay=60.0)
    with FakeFinnhub(default=lambda symbol: slow_quote) as fake:
        env = pipeline_env(
            topic_factory("stop"), FINNHUB_API_KEY="k", FINNHUB_BASE_URL=fake.base_url, FINNHUB_TIMEOUT_SECONDS="120"
        )
        running = Running("producer", env, "--source", "finnhub", "--symbols", "AAPL", "--interval", "60")
        try:
            wait_until(
                lambda: fake.requests_for("AAPL"), 60, "the first call", alive=lambda: running.process.poll() is None
            )
            assert_second_signal_exits_at_once(running, signal.SIGTERM, "SIGTERM: finishing the call in flight")
        finally:
            running.kill()


def test_a_second_ctrl_c_ends_the_streaming_job_while_spark_starts(stack, pipeline_env, topic_factory):
    running = Running("streaming", pipeline_env(topic_factory("stop")))
    try:
        running.wait_for_line("starting Spark", 60)
        assert_second_signal_exits_at_once(running, signal.SIGINT, "SIGINT: stopping after the batch in flight")
    finally:
        running.kill()
