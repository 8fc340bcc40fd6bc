"""Runs of the streaming job (with --progress-log) and what its query progress says."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from bench.stack import BenchStack, Watched
from devstack.process import wait_until
from streaming.job import QUERY_NAME

THREE_QUERY_AGGREGATIONS = ("aggregates-1m", "aggregates-5m")  # bench.history's queries, windows 1 and 5 min
DURATION_KEYS = ("latestOffset", "queryPlanning", "getBatch", "addBatch", "walCommit", "commitOffsets")


def start_job(
    stack: BenchStack, topic: str, work: Path, name: str, *flags: str, tree: Path | None = None
) -> tuple[Watched, Path]:
    """Start `python -m streaming flags` on a fresh checkpoint; the process and its progress file.
    With `tree`, the three-query job of bench.history runs instead, through its progress probe."""
    checkpoints = work / f"{name}-checkpoints"  # each run has its own name in a fresh work folder
    progress = work / f"{name}-progress.jsonl"
    log_path = work / f"{name}.log"
    if tree is None:
        job = Watched(
            "streaming", ["--progress-log", str(progress), *flags], stack.pipeline_env(topic, checkpoints), log_path
        )
    else:
        job = Watched(
            "bench.progress_probe",
            [str(progress), *flags],
            stack.pipeline_env(topic, checkpoints, PYTHONPATH=str(tree)),
            log_path,
            cwd=tree,
        )
    return job, progress


def read_progress(path: Path) -> list[dict]:
    """Every recorded query progress, in order."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def aggregation_batches(progress: list[dict]) -> list[dict]:
    """The progress of the job's batches that read rows (the three-query job's: its aggregation queries')."""
    return [p for p in progress if p["name"] in (QUERY_NAME, *THREE_QUERY_AGGREGATIONS) and p["numInputRows"] > 0]


def time_breakdown(progress: list[dict]) -> dict:
    """Per query: batches, rows, and the milliseconds spent in each phase of its micro-batches."""
    queries: dict = defaultdict(
        lambda: {"batches": 0, "rows": 0, **dict.fromkeys(("triggerExecution", *DURATION_KEYS), 0)}
    )
    for p in progress:
        if p["numInputRows"] == 0:
            continue
        entry = queries[p["name"]]
        entry["batches"] += 1
        entry["rows"] += p["numInputRows"]
        for key in ("triggerExecution", *DURATION_KEYS):
            entry[key] += p["durationMs"].get(key, 0)
    return dict(queries)


def state_size(progress: list[dict]) -> dict:
    """Rows and bytes in the state stores after the job's last batch."""
    last: dict = {}
    for p in progress:
        if p["name"] in (QUERY_NAME, *THREE_QUERY_AGGREGATIONS) and p.get("stateOperators"):
            last[p["name"]] = p["stateOperators"]
    rows = sum(op["numRowsTotal"] for ops in last.values() for op in ops)
    memory = sum(op["memoryUsedBytes"] for ops in last.values() for op in ops)
    dropped = sum(op.get("numRowsDroppedByWatermark", 0) for ops in last.values() for op in ops)
    return {
        "rows": rows,
        "memory_bytes": memory,
        "operators": sum(len(ops) for ops in last.values()),
        "last_batch_dropped_late": dropped,
    }


def wait_started(job: Watched, timeout: float = 180) -> None:
    """Wait until the job logged that its query started."""
    wait_until(
        lambda: f"query {QUERY_NAME} started" in job.output(),
        timeout,
        f"streaming job ({job.log_path})",
        alive=lambda: job.process.poll() is None,
    )
