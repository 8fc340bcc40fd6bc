"""A private Kafka broker and Postgres for one benchmark run, and the pipeline's processes on them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psutil

from common.settings import REPO_ROOT
from common.topics import ensure_topics
from devstack.kafka import KAFKA_JARS_DIR, KafkaBroker
from devstack.postgres import PostgresServer
from devstack.process import free_port, is_port_free
from devstack.schema import apply_schema

BENCH_STATE = REPO_ROOT / "var" / "bench"
PIPELINE_VARIABLES = ("FINNHUB_", "KAFKA_", "DATABASE_", "CHECKPOINT_", "SYMBOLS", "WEB_")


@dataclass
class BenchStack:
    """Where the benchmark's Kafka broker and Postgres are; start() runs a private pair on free ports."""

    bootstrap_servers: str
    database_url: str
    kafka: KafkaBroker | None = None
    postgres: PostgresServer | None = None
    root: Path | None = None

    @classmethod
    def start(cls, root: Path | None = None) -> "BenchStack":
        """Start Kafka and Postgres with their data under var/bench/, and apply the schema."""
        root = root or BENCH_STATE / f"stack-{os.getpid()}"
        kafka_port = free_port()
        while not is_port_free(kafka_port + 1):  # the controller listens on the next port
            kafka_port = free_port()
        bootstrap_servers = f"localhost:{kafka_port}"
        database_url = f"postgresql://bench:bench-{uuid.uuid4().hex[:8]}@localhost:{free_port()}/bench"
        stack = cls(bootstrap_servers, database_url, KafkaBroker(bootstrap_servers, root / "kafka", KAFKA_JARS_DIR),
                    PostgresServer(database_url, root / "postgres"), root)
        try:
            stack.kafka.start()
            stack.postgres.start()
            apply_schema(database_url)
        except BaseException:
            stack.stop()
            raise
        return stack

    def stop(self) -> None:
        """Stop the servers start() started and remove their data."""
        for server in (self.kafka, self.postgres):
            if server is not None:
                server.stop()
        if self.postgres is not None:
            self.postgres.remove()  # its data may live outside the repository (a clone in a private folder)
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)

    def new_topic(self, prefix: str) -> str:
        """A fresh topic (and its dead-letter topic) with a unique name."""
        name = f"bench-{prefix}-{uuid.uuid4().hex[:8]}"
        ensure_topics(self.bootstrap_servers, [name, f"{name}-dlq"])
        return name

    def env(self, topic: str, checkpoints: Path, **extra: str) -> dict:
        """Environment for the pipeline's processes on this stack and topic (nothing of ours inherited)."""
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(PIPELINE_VARIABLES)}
        ours = {
            "FINNHUB_API_KEY": "",
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "DATABASE_URL": self.database_url,
            "KAFKA_TOPIC": topic,
            "KAFKA_DLQ_TOPIC": f"{topic}-dlq",
            "CHECKPOINT_DIR": str(checkpoints),
            "PYTHONPATH": str(REPO_ROOT),
        }
        return {**inherited, **ours, **extra}


def tree_rss(process: psutil.Process) -> int:
    """Resident memory of a process and its children (the JVM under pyspark), in bytes."""
    total = 0
    for proc in [process, *process.children(recursive=True)]:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            pass
    return total


class Watched:
    """A `python -m module` child process whose peak resident memory (with its children) is sampled."""

    def __init__(self, module: str, args: list[str], env: dict, log_path: Path, cwd: Path = REPO_ROOT):
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            cwd=cwd, env=env, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
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
