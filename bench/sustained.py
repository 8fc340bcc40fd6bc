"""The highest input rate the job sustains with its default trigger: live load at rising rates, each
step passing while the micro-batches stay under a second (p90) and the job keeps up.

The default trigger is 250 ms and a batch's fixed cost alone is about twice that, so under load
batches run back to back; what bounds the lag is the batch's length, hence the 1 s budget."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from pathlib import Path

from bench import loadgen
from bench.spark_runs import read_progress, start_job, wait_started
from bench.stack import BenchStack
from bench.stats import percentile
from devstack.process import StackError, wait_until

WARMUP_BATCHES = 1  # the first batch under load still adjusts to the rate
WARMUP = (200, 2)  # events/s and seconds of light load that make the job compile its code first
CATCH_UP_SECONDS = 5
BATCH_BUDGET_MS = 1000


def judge_step(progress: list[dict], published: int, since: str = "", budget_ms: int = BATCH_BUDGET_MS) -> dict:
    """p90 batch duration over the steady batches (started at `since` or later, ISO time) of every
    query, and whether the job kept up."""
    steady = {}
    read = {}
    for p in progress:
        if p["numInputRows"] > 0 and p["timestamp"] >= since:
            steady.setdefault(p["name"], []).append(p["batchDuration"])
            read[p["name"]] = read.get(p["name"], 0) + p["numInputRows"]
    durations = [d for runs in steady.values() for d in runs[WARMUP_BATCHES:]]
    p90 = percentile(durations, 0.9) if durations else None
    kept_up = bool(read) and min(read.values()) >= published
    return {
        "batch_ms_p90": p90,
        "batches": len(durations),
        "kept_up": kept_up,
        "sustained": bool(p90 is not None and p90 <= budget_ms and kept_up),
    }


def measure_rate(stack: BenchStack, work: Path, rate: int, seconds: float, workers: int) -> dict:
    """One step: the job with its default trigger under `rate` events/s of live trades."""
    topic = stack.new_topic(f"sustained-{rate}")
    name = f"sustained-{rate}"
    job, progress_file = start_job(stack, topic, work, name)
    try:
        wait_started(job)
        warmup = loadgen.publish_paced(stack.bootstrap_servers, topic, *WARMUP, workers=1)
        wait_until(
            lambda: judge_step(read_progress(progress_file), warmup["events"])["kept_up"],
            300,
            "the job's first batches (warm-up)",
        )
        since = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        generator = loadgen.publish_paced(stack.bootstrap_servers, topic, rate, seconds, workers)
        # a job that keeps up reads the last events within a few triggers; one that does not is judged below
        with contextlib.suppress(StackError):
            wait_until(
                lambda: judge_step(read_progress(progress_file), generator["events"], since)["kept_up"],
                CATCH_UP_SECONDS,
                "the job catching up",
            )
    finally:
        job.stop()
    verdict = judge_step(read_progress(progress_file), generator["events"], since)
    return {"target_rate": rate, "generator": generator, **verdict, "streaming_peak_rss_bytes": job.peak_rss}


def find_sustained_rate(stack: BenchStack, work: Path, rates: list[int], seconds: float, workers: int) -> dict:
    """Step up through `rates` until one is not sustained; the highest that was."""
    steps = []
    for rate in rates:
        steps.append(measure_rate(stack, work, rate, seconds, workers))
        if not steps[-1]["sustained"]:
            break
    passed = [s["target_rate"] for s in steps if s["sustained"]]
    return {"highest_sustained_rate": max(passed) if passed else None, "steps": steps}
