"""Pure summaries of measured samples: medians with their spread, percentiles, ratios."""

from __future__ import annotations

import math
import statistics


def percentile(values, fraction: float) -> float:
    """The `fraction` percentile (0..1) of `values`, by linear interpolation between closest ranks."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    position = (len(ordered) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def spread(values) -> dict:
    """Median, min, max and count of repeated runs of one figure."""
    values = [v for v in values if v is not None]
    if not values:
        return {"median": None, "min": None, "max": None, "runs": 0}
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "runs": len(values)}


def latency_percentiles(seconds) -> dict:
    """p50 / p95 / p99 / max of latencies in seconds, and how many there were."""
    return {
        "p50": percentile(seconds, 0.50),
        "p95": percentile(seconds, 0.95),
        "p99": percentile(seconds, 0.99),
        "max": max(seconds),
        "samples": len(seconds),
    }


def ratio(numerator, denominator) -> float | None:
    """numerator / denominator, or None when either is missing or the denominator is 0."""
    if not numerator or not denominator:
        return None
    return numerator / denominator


def spread_runs(runs: list[dict]) -> dict:
    """Each numeric figure of repeated runs (dicts with the same keys) as median/min/max."""
    numeric = [k for k, v in runs[0].items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return {k: spread([r[k] for r in runs]) for k in numeric}
