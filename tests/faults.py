"""Helpers of the fault tests: the pipeline's processes run in the background with their output in a
file, and the ledger that accounts for every published event after a fault."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg2

from common.contract import message_problem
from common.settings import REPO_ROOT
from devstack.process import wait_until
from tests.helpers import read_topic

log = logging.getLogger("faults")

STREAMING_ARGS = ("--trigger", "1 second", "--watermark", "1 hour")
LATE_DROPS = re.compile(r"aggregates batch \d+: .*, (\d+) dropped as late")
COUNTS_FILE = REPO_ROOT / "var" / "fault-counts.log"  # what each fault test saw, one line per run
PRODUCER_SUMMARY = re.compile(r"(\d+) delivered, \d+ dead-lettered, (\d+) failed deliveries")


def start(module: str, args, env: dict, log_path: Path) -> subprocess.Popen:
    """`python -m module args` in the background, in its own process group, output appended to `log_path`."""
    return start_command([sys.executable, "-m", module, *args], env, log_path)


def start_command(argv: list, env: dict | None, log_path: Path) -> subprocess.Popen:
    """`argv` in the background, in its own process group (env None: this process's), output appended to `log_path`."""
    with log_path.open("a") as output:
        return subprocess.Popen(
            argv,
            cwd=REPO_ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def backlog_args(per_batch: int) -> list[str]:
    """The streaming job's flags for a backlog read `per_batch` records a batch, back to back, late events
    kept for an hour."""
    return ["--trigger", "0 seconds", "--max-offsets-per-trigger", str(per_batch), "--watermark", "1 hour"]


def start_backlog_job(env: dict, log_path: Path, per_batch: int, batches: int) -> subprocess.Popen:
    """The streaming job with `backlog_args`, returned once it has logged `batches` batches."""
    job = start("streaming", backlog_args(per_batch), env, log_path)
    try:
        wait_until(
            lambda: f"aggregates batch {batches - 1}:" in log_path.read_text(),
            180,
            f"{batches} batches",
            alive=lambda: job.poll() is None,
        )
    except BaseException:
        kill_9(job)
        raise
    return job


def kill_9(process: subprocess.Popen) -> None:
    """SIGKILL a process started by `start` and everything it started (the job's JVM), no clean-up."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def stop(process: subprocess.Popen, timeout: float = 120) -> int:
    """SIGTERM a process started by `start` and wait for its exit code (SIGKILL when it hangs)."""
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_9(process)
        raise


def batches_written(db) -> int:
    """Micro-batches the aggregation query has committed to Postgres (the sink's batch ledger)."""
    return len(ledger_batches(db))


def ledger_batches(db) -> list[tuple[str, int]]:
    """(query_id, batch_id) of every batch in the sink's ledger, in batch order."""
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT query_id, batch_id FROM streaming_batches WHERE query_name = 'aggregates' ORDER BY batch_id"
        )
        return cursor.fetchall()


def checkpoint_batches(log_folder: Path) -> set[int]:
    """The batch ids in a checkpoint's `offsets` or `commits` folder (none before the folder exists)."""
    if not log_folder.exists():
        return set()
    return {int(p.name) for p in log_folder.iterdir() if p.name.isdigit()}


def producer_totals(output: str) -> tuple[int, int]:
    """(delivered, failed deliveries) from the producer's last summary line."""
    delivered, failed = PRODUCER_SUMMARY.findall(output)[-1]
    return int(delivered), int(failed)


@dataclass(frozen=True)
class Ledger:
    """Where the events of a topic went: published = aggregated + rejected + late must hold."""

    published: int  # distinct contract events (by id) plus records that are not contract messages
    aggregated: int  # sum of event_count over the 1-minute windows
    rejected: int  # rows of rejected_events for the topic
    late: int  # events the 1-minute query dropped behind the watermark, from the job's log

    @property
    def balanced(self) -> bool:
        return self.published == self.aggregated + self.rejected + self.late


def published_messages(bootstrap_servers: str, topic: str) -> tuple[list[dict], int]:
    """(the contract messages in the topic, how many records are not contract messages)."""
    messages, bad = [], 0
    for _, value in read_topic(bootstrap_servers, topic):
        try:
            message = json.loads(value)
        except ValueError:
            bad += 1
            continue
        if message_problem(message) is None:
            messages.append(message)
        else:
            bad += 1
    return messages, bad


def events_aggregated(connection) -> int:
    """Events counted in stock_aggregates: the sum of event_count over the 1-minute windows."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(event_count), 0) FROM stock_aggregates"
            " WHERE window_end - window_start = interval '1 minute'"
        )
        return int(cursor.fetchone()[0])


def ledger(bootstrap_servers: str, database_url: str, topic: str, job_output: str) -> Ledger:
    """The ledger of `topic` now: read back from Kafka, Postgres and the job's log."""
    messages, bad = published_messages(bootstrap_servers, topic)
    connection = psycopg2.connect(database_url)
    try:
        aggregated = events_aggregated(connection)
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM rejected_events WHERE topic = %s", (topic,))
            rejected = cursor.fetchone()[0]
    finally:
        connection.close()
    late = sum(int(n) for n in LATE_DROPS.findall(job_output))
    return Ledger(len({m["id"] for m in messages}) + bad, aggregated, rejected, late)


def report(fault: str, counts: Ledger) -> None:
    """Log the counts a fault test saw, and add them to COUNTS_FILE (shown by `make chaos`)."""
    line = (
        f"{fault}: published {counts.published} = in stock_aggregates {counts.aggregated}"
        f" + rejected {counts.rejected} + dropped late {counts.late}"
        f" ({'balanced' if counts.balanced else 'NOT balanced'})"
    )
    log.info("%s", line)
    COUNTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    with COUNTS_FILE.open("a") as counts_file:
        counts_file.write(f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} {line}\n")
