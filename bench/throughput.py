"""Backlog throughput: the streaming job with --available-now against the two plain Python
baselines, on the same topic and Postgres, every result checked against the reference."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from bench import baselines, loadgen
from bench.exactness import check_table, empty_tables
from bench.history import extract_three_query_job
from bench.spark_runs import aggregation_batches, read_progress, start_job, state_size, time_breakdown
from bench.stack import BenchStack
from bench.stats import spread, spread_runs
from reference.aggregates import reference_aggregates

log = logging.getLogger(__name__)

WINDOWS = "1 minute,5 minutes"
WINDOW_SECONDS = [60, 300]


def prepare_backlog(stack: BenchStack, events: int, compression: str, seed: int = 7, expected=None) -> dict:
    """A topic holding `events` synthetic trades over one hour of event time, and its reference
    (`expected`, when the same events were published before: the reference ignores ingested_at)."""
    topic = stack.new_topic(f"backlog-{compression}")
    plan = loadgen.backlog_plan(events, seed, loadgen.HOUR_MS)
    generator = loadgen.publish_backlog(stack.bootstrap_servers, topic, plan, compression)
    log.info(
        "backlog of %d events (%s) published at %.0f events/s",
        generator["events"],
        compression,
        generator["events_per_second"],
    )
    if expected is None:
        expected = reference_aggregates(loadgen.plan_messages(plan), WINDOW_SECONDS)
    return {"topic": topic, "generator": generator, "expected": expected}


def processing_span_seconds(progress: list[dict]) -> float:
    """From the start of the first micro-batch to the end of the last one that read rows."""
    batches = [p for p in progress if p["numInputRows"] > 0]
    starts = [datetime.fromisoformat(p["timestamp"].replace("Z", "+00:00")).timestamp() for p in batches]
    ends = [s + p["batchDuration"] / 1000 for s, p in zip(starts, batches, strict=True)]
    return max(ends) - min(starts)


def run_streaming(
    stack: BenchStack, backlog: dict, work: Path, name: str, *flags: str, tree: Path | None = None
) -> dict:
    """One --available-now run from a new checkpoint over the backlog: speed, memory, exactness
    (with `tree`, of the three-query job of bench.history)."""
    empty_tables(stack.database_url)
    job, progress_file = start_job(
        stack, backlog["topic"], work, name, "--available-now", "--windows", WINDOWS, *flags, tree=tree
    )
    seconds = job.wait(timeout=1800)
    progress = read_progress(progress_file)
    events = backlog["generator"]["events"]
    span = processing_span_seconds(progress)
    return {
        "seconds": seconds,
        "events_per_second": events / seconds,
        "batch_span_seconds": span,
        "batch_events_per_second": events / span,
        "peak_rss_bytes": job.peak_rss,
        "breakdown": time_breakdown(progress),
        "state": state_size(progress),
        "batches": len(aggregation_batches(progress)),
        **check_table(stack.database_url, backlog["expected"]),
    }


def run_baseline(stack: BenchStack, backlog: dict, kind: str, limit: int | None) -> dict:
    """One run of a plain Python consumer over the backlog (the first `limit` events, per event)."""
    empty_tables(stack.database_url)
    if kind == "per_event":
        result = baselines.run_per_event(
            stack.bootstrap_servers, backlog["topic"], stack.database_url, WINDOW_SECONDS, limit
        )
    else:
        result = baselines.run_batched(stack.bootstrap_servers, backlog["topic"], stack.database_url, WINDOW_SECONDS)
    messages = result.pop("messages", None)  # only a run cut short keeps what it read
    expected = backlog["expected"] if messages is None else reference_aggregates(messages, WINDOW_SECONDS)
    return {**result, **check_table(stack.database_url, expected)}


def measure_backlog(stack: BenchStack, work: Path, sizes) -> dict:
    """Streaming --available-now (gzip as the producer writes, and lz4) and both baselines, `runs` times;
    the three-query job once, on the same backlog."""
    results: dict = {}
    gzip_backlog = prepare_backlog(stack, sizes.backlog_events, "gzip")
    results["generator"] = gzip_backlog["generator"]
    results["generator_rate"] = spread([gzip_backlog["generator"]["events_per_second"]])
    runs = [run_streaming(stack, gzip_backlog, work, f"backlog-gzip-{n}") for n in range(sizes.runs)]
    results["streaming_gzip"] = summarize_runs(runs)
    three_query_job = extract_three_query_job(work)
    if three_query_job is not None:  # the job before the one-pass rewrite, once (it is the slowest run)
        before = run_streaming(stack, gzip_backlog, work, "backlog-three-queries", tree=three_query_job)
        results["three_queries_gzip"] = summarize_runs([before])
    per_event = [run_baseline(stack, gzip_backlog, "per_event", sizes.per_event_limit) for _ in range(sizes.runs)]
    results["baseline_per_event"] = summarize_runs(per_event)
    batched = [run_baseline(stack, gzip_backlog, "batched", None) for _ in range(sizes.runs)]
    results["baseline_batched"] = summarize_runs(batched)
    lz4_backlog = prepare_backlog(stack, sizes.backlog_events, "lz4", expected=gzip_backlog["expected"])
    results["streaming_lz4"] = summarize_runs([run_streaming(stack, lz4_backlog, work, "backlog-lz4")])
    hour = run_streaming(stack, lz4_backlog, work, "hour", "--max-offsets-per-trigger", str(sizes.hour_batch_events))
    results["hour_of_trading"] = {**summarize_runs([hour]), "state": hour["state"], "batches": hour["batches"]}
    return results


def summarize_runs(runs: list[dict]) -> dict:
    """Numeric figures as median/min/max over runs; exact only when every run was; one run's detail."""
    return {
        **spread_runs(runs),
        "exact": all(r["exact"] for r in runs),
        "problems": [r["problem"] for r in runs if r["problem"]],
        "rows": runs[0]["rows"],
        "detail": {k: v for k, v in runs[0].items() if isinstance(v, dict)},
    }
