"""A private Kafka broker and Postgres for one benchmark run, and the pipeline's processes on them."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import psutil

from common.settings import REPO_ROOT
from common.topics import ensure_topics
from devstack.private import PrivateStack

BENCH_STATE = REPO_ROOT / "var" / "bench"


class BenchStack(PrivateStack):
    """The benchmark's Kafka broker and Postgres; start() runs a private pair on free ports."""

    @classmethod
    def start(cls, root: Path | None = None, name: str = "bench", reader: bool = False) -> BenchStack:
        """Start Kafka and Postgres with their data under var/bench/, and apply the schema."""
        return super().start(root or BENCH_STATE / f"stack-{os.getpid()}", name, reader)

    def new_topic(self, prefix: str) -> str:
        """A fresh topic (and its dead-letter topic) with a unique name."""
        name = f"bench-{prefix}-{uuid.uuid4().hex[:8]}"
        ensure_topics(self.bootstrap_servers, [name, f"{name}-dlq"])
        return name


def tree_rss(process: psutil.Process) -> int:
    """Resident memory of a process and its children (the JVM under pyspark), in bytes."""
    total = 0
    for proc in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            total += proc.memory_info().rss
    return total


class Watched:
    """A `python -m module` child process whose peak resident memory (with its children) is sampled."""

    def __init__(self, module: str, args: list[str], env: dict, log_path: Path, cwd: Path = REPO_ROOT):
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - the child writes it until stop() closes it
        self.process = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            cwd=cwd,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        self.started = time.monotonic()
        self.peak_rss = 0
        self._done = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def _sample(self) -> None:
        watched = psutil.Process(self.process.pid)
        while not self._done.is_set() and self.process.poll() is None:
            try:
                self.peak_rss = max(self.peak_rss, tree_rss(watched))
            except psutil.Error:
                break
            self._done.wait(0.2)

    def wait(self, timeout: float) -> float:
        """Wait for the exit; the seconds since start. Fails with the log's tail on a non-zero exit."""
        try:
            code = self.process.wait(timeout=timeout)
        finally:
            self._finish()
        if code != 0:
            raise RuntimeError(f"{self.log_path.name}: exit {code}\n{self.output()[-3000:]}")
        return time.monotonic() - self.started

    def stop(self) -> None:
        """SIGTERM and wait (the pipeline's processes finish their batch or flush first)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._finish()

    def output(self) -> str:
        """What the process has logged so far."""
        return self.log_path.read_text(errors="replace")

    def _finish(self) -> None:
        self._done.set()
        self._sampler.join(timeout=5)
        self._log.close()
