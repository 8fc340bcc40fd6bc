"""The benchmark report: the JSON of every figure, and the Markdown table the README includes."""

from __future__ import annotations

import json
import re
from pathlib import Path

from bench.stats import ratio, spread

README_START = "<!-- bench:start (written by `make bench`) -->"
README_END = "<!-- bench:end -->"
GIB = 2**30


def _get(results: dict, path: str):
    value = results
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _rate(x):
    return f"{x:,.0f} ev/s"


def _ms(x):
    return f"{x * 1000:,.0f} ms" if x >= 0.1 else f"{x * 1000:.1f} ms"


def _mib(x):
    return f"{x / 2**20:,.0f} MiB"


def _times(x):
    return f"{x:,.1f}×"


def _req(x):
    return f"{x:,.0f} req/s"


def _count(x):
    return f"{x:,.0f}"


def _percent(x):
    return f"{x:.0f} %"


def _rate_or_below(x):
    return _rate(x) if x > 0 else f"below {-x:,.0f} ev/s"


def sustained_figure(results: dict) -> dict | None:
    """The highest sustained rate; when even the first step failed, minus that step's rate."""
    steps = _get(results, "sustained.steps")
    if not steps:
        return None
    highest = _get(results, "sustained.highest_sustained_rate")
    return spread([highest if highest is not None else -steps[0]["target_rate"]])


def web_figure(results: dict, endpoint: str, key: str) -> dict | None:
    """Median, min and max of one wrk figure of one endpoint over the runs."""
    runs = _get(results, f"web_api.runs.{endpoint}")
    return spread([r[key] for r in runs]) if runs else None


def freshness_figure(results: dict, case: str, key: str) -> dict | None:
    """A freshness percentile of one load/trigger case (one run each: a run is many events)."""
    value = _get(results, f"freshness.{case}.{key}")
    return spread([value]) if value is not None else None


def peak_streaming_rss(results: dict) -> float | None:
    """The highest resident memory the streaming job reached in any measurement."""
    peaks = [
        _get(results, f"backlog.{run}.peak_rss_bytes.max")
        for run in ("streaming_gzip", "streaming_lz4", "hour_of_trading")
    ]
    peaks += [c.get("streaming_peak_rss_bytes") for c in (_get(results, "freshness") or {}).values()]
    peaks = [p for p in peaks if p]
    return max(peaks) if peaks else None


def figures(results: dict) -> list[tuple[str, dict | None, callable, str, bool | None]]:
    """(what, median/min/max, format, target, met) for each row of the table."""
    single = lambda v: spread([v]) if v is not None else None  # noqa: E731
    speedup = ratio(
        _get(results, "backlog.streaming_gzip.events_per_second.median"),
        _get(results, "backlog.baseline_per_event.events_per_second.median"),
    )
    speedup_batched = ratio(
        _get(results, "backlog.streaming_gzip.events_per_second.median"),
        _get(results, "backlog.baseline_batched.events_per_second.median"),
    )
    backlog = _get(results, "backlog.streaming_gzip.events_per_second")
    batch_only = _get(results, "backlog.streaming_gzip.batch_events_per_second")
    before = _get(results, "backlog.three_queries_gzip.events_per_second")
    backlog_size = f"{_get(results, 'sizes.backlog_events') or 1_000_000:,}-event"
    sustained = sustained_figure(results)
    api_p99 = [web_figure(results, e, "p99") for e in ("latest", "aggregates")]
    rss = peak_streaming_rss(results)

    def met(figure, test):
        return None if figure is None or figure["median"] is None else bool(test(figure["median"]))

    rows = [
        ("Load generator (confluent-kafka, backlog)", _get(results, "backlog.generator_rate"), _rate, "", None),
        (
            f"Streaming `--available-now`, {backlog_size} backlog (gzip), whole run",
            backlog,
            _rate,
            "≥ batched baseline",
            met(single(speedup_batched), lambda v: v >= 1),
        ),
        (
            "… same, micro-batch time only (no JVM start)",
            batch_only,
            _rate,
            "≥ 150,000 ev/s",
            met(batch_only, lambda v: v >= 150_000),
        ),
        ("… same backlog written with lz4", _get(results, "backlog.streaming_lz4.events_per_second"), _rate, "", None),
        ("Before: the three-query job, same backlog, whole run", before, _rate, "", None),
        (
            "… micro-batch time only",
            _get(results, "backlog.three_queries_gzip.batch_events_per_second"),
            _rate,
            "",
            None,
        ),
        ("… peak RSS (JVM included)", _get(results, "backlog.three_queries_gzip.peak_rss_bytes"), _mib, "", None),
        (
            "One pass ÷ three queries, whole run",
            single(ratio(_get(backlog or {}, "median"), _get(before or {}, "median"))),
            _times,
            "",
            None,
        ),
        (
            "Baseline: per-event upserts (kafka-python)",
            _get(results, "backlog.baseline_per_event.events_per_second"),
            _rate,
            "",
            None,
        ),
        (
            "Baseline: batched in-memory aggregation",
            _get(results, "backlog.baseline_batched.events_per_second"),
            _rate,
            "",
            None,
        ),
        ("Streaming ÷ per-event baseline", single(speedup), _times, "", None),
        (
            "Streaming ÷ batched baseline",
            single(speedup_batched),
            _times,
            "≥ 1×",
            met(single(speedup_batched), lambda v: v >= 1),
        ),
        (
            "Highest sustained rate, default trigger, p90 batch ≤ 1 s",
            sustained,
            _rate_or_below,
            "≥ 50,000 ev/s",
            met(sustained, lambda v: v >= 50_000),
        ),
    ]
    for case, label in (
        ("demo", "demo load (8 tickers, 8 ev/s)"),
        ("rate_80", "80 ev/s spread evenly"),
        ("rate_10k", "10,000 ev/s"),
    ):
        for key in ("p50", "p95", "p99"):
            figure = freshness_figure(results, case, key)
            target = "≤ 1.0 s" if key == "p95" and case != "rate_10k" else ""
            rows.append(
                (
                    f"Freshness {key}, {label}, default trigger",
                    figure,
                    _ms,
                    target,
                    met(figure, lambda v: v <= 1.0) if target else None,
                )
            )
    staleness = freshness_figure(results, "rate_80", "staleness.p95")
    rows.append(
        (
            "Now − newest `last_event_at`, p95 of 100 ms polls, 80 ev/s",
            staleness,
            _ms,
            "≤ 1.0 s",
            met(staleness, lambda v: v <= 1.0),
        )
    )
    for endpoint, p99 in zip(("latest", "aggregates"), api_p99, strict=True):
        rows += [
            (
                f"`/api/{endpoint}` p50, 50 clients, {_get(results, 'web_api.rows') or 0:,} rows",
                web_figure(results, endpoint, "p50"),
                _ms,
                "",
                None,
            ),
            (f"`/api/{endpoint}` p99", p99, _ms, "≤ 50 ms", met(p99, lambda v: v <= 0.05)),
            (f"`/api/{endpoint}` throughput", web_figure(results, endpoint, "requests_per_second"), _req, "", None),
        ]
    before = _get(results, "web_page.seven_request_poll_cost") or {}
    for rows_count, cost in (_get(results, "web_page.poll_cost") or {}).items():
        server = single(cost["server"]["p50"])
        rows += [
            (
                f"Page poll (`/api/snapshot`) after a write, {int(rows_count):,} rows: server time, p50",
                server,
                _ms,
                "≤ 20 ms",
                met(server, lambda v: v <= 0.02),
            ),
            ("… server time, p95", single(cost["server"]["p95"]), _ms, "", None),
            (
                "… the viewer's wait after a write (answer refreshed ahead), p50",
                single(cost["fresh"]["p50"]),
                _ms,
                "",
                None,
            ),
            ("… the viewer's wait between writes, p50", single(cost["cached"]["p50"]), _ms, "", None),
        ]
        if rows_count in before:
            rows.append(
                ("… before: the page's seven requests, p50", single(before[rows_count]["fresh"]["p50"]), _ms, "", None)
            )
    viewers = _get(results, "web_page.viewers")
    if viewers:
        p99 = single(viewers.get("p99"))
        rows += [
            (
                f"{viewers['viewers']} viewers polling every 5 s, batches committing: p99",
                p99,
                _ms,
                "≤ 50 ms",
                met(p99, lambda v: v <= 0.05),
            ),
            ("… p50", single(viewers.get("p50")), _ms, "", None),
            ("… requests answered", single(viewers["requests"]), _count, "", None),
            ("… errors", single(viewers["errors"]), _count, "0", met(single(viewers["errors"]), lambda v: v == 0)),
            ("… answered 304 Not Modified", single(100 * viewers["not_modified_share"]), _percent, "", None),
        ]
    rows += [
        (
            "Peak RSS, streaming job (JVM included)",
            single(rss),
            _mib,
            "≤ 1.5 GiB",
            met(single(rss), lambda v: v <= 1.5 * GIB),
        ),
        ("Peak RSS, producer", _get(results, "producer.peak_rss_bytes"), _mib, "", None),
        ("Peak RSS, webapp", single(_get(results, "web_api.webapp_peak_rss_bytes")), _mib, "", None),
        (
            "Spark state after 1 h of 8-ticker trading: rows",
            single(_get(results, "backlog.hour_of_trading.state.rows")),
            _count,
            "",
            None,
        ),
        ("… state memory", single(_get(results, "backlog.hour_of_trading.state.memory_bytes")), _mib, "", None),
        (
            "Producer synthetic publish rate (kafka-python, gzip, acks=all)",
            _get(results, "producer.events_per_second"),
            _rate,
            "",
            None,
        ),
    ]
    return rows


def render_markdown(results: dict) -> str:
    """The results table, the machine it ran on, and whether every result matched the reference."""
    machine = results["machine"]
    lines = [
        f"Measured {results['finished_at'][:16].replace('T', ' ')} UTC, `{results['mode']}` mode, on "
        f"{machine['cpu_cores']} cores ({machine['cpu_model']}), {machine['memory_gib']} GiB, load average "
        f"{' / '.join(map(str, machine['load_average_at_start']))} at start; pyspark "
        f"{machine['packages']['pyspark']}, Kafka {machine['kafka']}, {machine['postgres']}, "
        f"Python {machine['python']}.",
        "",
        "| figure | median | min – max | runs | target | met |",
        "| --- | ---: | ---: | ---: | --- | --- |",
    ]
    for label, figure, fmt, target, met in figures(results):
        if figure is None or figure["median"] is None:
            lines.append(f"| {label} | not measured | | | {target} | |")
            continue
        span = f"{fmt(figure['min'])} – {fmt(figure['max'])}" if figure["runs"] > 1 else ""
        verdict = "" if met is None else ("yes" if met else "**no**")
        lines.append(f"| {label} | {fmt(figure['median'])} | {span} | {figure['runs']} | {target} | {verdict} |")
    lines += ["", "Exact against the plain-Python reference (every run): " + exactness_line(results), ""]
    lines += breakdown_table(results)
    return "\n".join(lines)


def breakdown_table(results: dict) -> list[str]:
    """Where the time of one streaming --available-now run went, per query (Spark's durationMs), for
    the job and for the three-query job before it."""
    jobs = [
        (label, _get(results, f"backlog.{key}.detail.breakdown"))
        for key, label in (("streaming_gzip", "one pass"), ("three_queries_gzip", "three queries (before)"))
    ]
    jobs = [(label, breakdown) for label, breakdown in jobs if breakdown]
    if not jobs:
        return []
    phases = ("triggerExecution", "addBatch", "queryPlanning", "latestOffset", "walCommit", "commitOffsets")
    lines = [
        "Where the time of one `--available-now` run went (Spark's query progress, ms summed over "
        "batches; `addBatch` is reading, parsing, de-duplicating, aggregating and writing):",
        "",
        "| job | query | batches | rows | " + " | ".join(phases) + " |",
        "| --- | --- | ---: | ---: | " + " | ".join("---:" for _ in phases) + " |",
    ]
    for label, breakdown in jobs:
        for name, entry in sorted(breakdown.items()):
            lines.append(
                f"| {label} | {name} | {entry['batches']} | {entry['rows']:,} | "
                + " | ".join(f"{entry[p]:,}" for p in phases)
                + " |"
            )
    return [*lines, ""]


def exactness_line(results: dict) -> str:
    """Which of the compared results matched the reference."""
    parts = []
    for key, label in (
        ("streaming_gzip", "streaming"),
        ("three_queries_gzip", "three-query job"),
        ("streaming_lz4", "streaming (lz4)"),
        ("hour_of_trading", "streaming (1 h in batches)"),
        ("baseline_per_event", "per-event baseline"),
        ("baseline_batched", "batched baseline"),
    ):
        exact = _get(results, f"backlog.{key}.exact")
        if exact is not None:
            parts.append(f"{label} {'yes' if exact else '**NO**'}")
    return ", ".join(parts) or "not measured"


def write_report(results: dict, out_dir: Path) -> tuple[Path, Path]:
    """bench/results/<date>-<host>.json and .md, and latest.md beside them."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{results['finished_at'][:10]}-{results['machine']['host']}"
    json_path, md_path = out_dir / f"{stem}.json", out_dir / f"{stem}.md"
    json_path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    markdown = render_markdown(results)
    md_path.write_text(markdown)
    (out_dir / "latest.md").write_text(markdown)
    return json_path, md_path


def replace_between_markers(text: str, table: str) -> str:
    """`text` with what lies between the bench markers replaced by `table`; ValueError without markers."""
    pattern = re.compile(re.escape(README_START) + ".*?" + re.escape(README_END), re.S)
    if not pattern.search(text):
        raise ValueError("the README has no bench markers")
    return pattern.sub(lambda _: f"{README_START}\n{table}\n{README_END}", text, count=1)
