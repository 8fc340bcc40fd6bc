"""The benchmark harness's pure parts: statistics, verdicts, wrk parsing, the report, the baselines' maths."""

import pytest

from bench.freshness import event_freshness
from bench.loadgen import backlog_messages
from bench.report import README_END, README_START, render_markdown, replace_between_markers
from bench.stats import latency_percentiles, percentile, spread, spread_runs
from bench.sustained import judge_step
from bench.viewers import summarize as summarize_viewers
from bench.viewers import viewer_paths
from bench.webapi import parse_wrk
from bench.window_state import WindowBook
from reference.aggregates import assert_rows_match, reference_aggregates
from tests.helpers import trades

WRK_OUTPUT = """Running 5s test @ http://127.0.0.1:5000/api/latest?window=1m
  2 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    21.50ms    4.10ms  80.00ms   90.00%
  Latency Distribution
     50%   20.25ms
     75%   23.00ms
     90%   26.00ms
     99%    1.20s
  4600 requests in 5.00s, 9.1MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:    919.80
Transfer/sec:      1.82MB
"""


def test_percentiles_interpolate_between_ranks():
    assert percentile([4, 1, 3, 2], 0.5) == 2.5
    assert percentile([10], 0.99) == 10
    assert percentile(range(101), 0.95) == 95
    assert latency_percentiles([0.1, 0.2, 0.3])["p50"] == 0.2
    with pytest.raises(ValueError):
        percentile([], 0.5)


def test_spread_takes_median_min_max_of_runs_and_skips_missing():
    assert spread([3, None, 1, 2]) == {"median": 2, "min": 1, "max": 3, "runs": 3}
    assert spread_runs([{"a": 1, "b": "x"}, {"a": 5, "b": "y"}]) == {"a": {"median": 3, "min": 1, "max": 5, "runs": 2}}


def test_the_baselines_window_maths_equals_the_reference():
    messages = trades(600, seed=11)  # three symbols, 12 minutes, resent ids, some without volume
    book = WindowBook([60, 300])
    for message in messages:
        book.add(message)
    columns = (
        "open_price",
        "high_price",
        "low_price",
        "close_price",
        "avg_price",
        "price_stddev",
        "event_count",
        "volume",
        "vwap",
        "first_event_at",
        "last_event_at",
    )
    actual = {row[:3]: dict(zip(columns, row[3:], strict=True)) for row in book.rows(book.states)}
    assert_rows_match(actual, reference_aggregates(messages, [60, 300]))


def test_backlog_plan_is_reproducible_and_in_event_time_order():
    first = list(backlog_messages(("AAPL", "MSFT"), 100, seed=3))
    assert [m["id"] for m in first] == [m["id"] for m in backlog_messages(("AAPL", "MSFT"), 100, seed=3)]
    assert [m["event_time"] for m in first] == sorted(m["event_time"] for m in first)
    assert len({m["id"] for m in first}) == 100


def test_freshness_is_measured_to_the_first_row_version_covering_the_event():
    base = 1_795_168_800_000
    events = [
        {"symbol": "AAPL", "event_time": base + 1_000, "ingested_at": base + 1_000},
        {"symbol": "AAPL", "event_time": base + 2_000, "ingested_at": base + 2_000},
        {"symbol": "MSFT", "event_time": base + 1_000, "ingested_at": base + 1_000},
    ]
    versions = {("AAPL", base): [(base + 2_000, (base + 3_500) / 1000), (base + 1_000, (base + 1_800) / 1000)]}
    latencies, missing = event_freshness(events, versions)
    assert latencies == pytest.approx([0.8, 1.5])
    assert missing == 1  # MSFT's row never showed up


def test_a_rate_is_sustained_only_with_batches_under_the_trigger_and_no_lag():
    def batches(durations, rows=100):
        return [
            {"name": "aggregates", "numInputRows": rows, "batchDuration": d, "timestamp": f"2026-11-22T06:00:0{n}.000Z"}
            for n, d in enumerate(durations)
        ]

    assert judge_step(batches([400, 500, 600, 700]), published=400)["sustained"]
    assert not judge_step(batches([400, 500, 1500, 1600]), published=400)["sustained"]
    assert not judge_step(batches([400, 500, 600, 700]), published=401)["sustained"]
    # batches before the load started (warm-up) are neither judged nor counted as keeping up
    late_start = judge_step(batches([9000, 500, 600, 700]), published=300, since="2026-11-22T06:00:01.000Z")
    assert late_start["sustained"] and late_start["batches"] == 2
    assert not judge_step(batches([9000, 500, 600]), published=300, since="2026-11-22T06:00:01.000Z")["kept_up"]


def test_wrk_output_is_parsed_with_units_and_errors():
    parsed = parse_wrk(WRK_OUTPUT)
    assert parsed["p50"] == pytest.approx(0.02025)
    assert parsed["p99"] == pytest.approx(1.2)
    assert parsed["requests_per_second"] == 919.8
    assert parsed["errors"] == 7
    with pytest.raises(RuntimeError):
        parse_wrk("connection refused")


def test_the_report_marks_targets_and_replaces_only_the_readme_table():
    results = {
        "mode": "quick",
        "finished_at": "2026-11-22T06:00:00+00:00",
        "machine": {
            "cpu_cores": 2,
            "cpu_model": "cpu",
            "memory_gib": 8,
            "load_average_at_start": [1.0, 1.0, 1.0],
            "packages": {"pyspark": "4.0.0"},
            "kafka": "4.2.0",
            "postgres": "postgres 17",
            "python": "3.11",
        },
        "backlog": {
            "streaming_gzip": {
                "events_per_second": {"median": 50_000, "min": 40_000, "max": 60_000, "runs": 3},
                "exact": True,
            },
            "baseline_per_event": {
                "events_per_second": {"median": 2_000, "min": 2_000, "max": 2_000, "runs": 3},
                "exact": True,
            },
            "baseline_batched": {
                "events_per_second": {"median": 62_500, "min": 60_000, "max": 70_000, "runs": 3},
                "exact": True,
            },
            "three_queries_gzip": {
                "events_per_second": {"median": 20_000, "min": 20_000, "max": 20_000, "runs": 1},
                "exact": True,
            },
        },
        "web_page": {
            "poll_cost": {
                "10000": {"server": {"p50": 0.012, "p95": 0.025}, "fresh": {"p50": 0.003}, "cached": {"p50": 0.0011}},
                "1000000": {"server": {"p50": 0.031, "p95": 0.04}, "fresh": {"p50": 0.004}, "cached": {"p50": 0.0012}},
            },
            "seven_request_poll_cost": {"1000000": {"fresh": {"p50": 0.9}}},
            "viewers": {
                "viewers": 500,
                "requests": 6000,
                "errors": 0,
                "p50": 0.004,
                "p99": 0.062,
                "not_modified_share": 0.25,
            },
        },
    }
    table = render_markdown(results)
    assert (
        "| Streaming `--available-now`, 1,000,000-event backlog (gzip), whole run | 50,000 ev/s"
        " | 40,000 ev/s – 60,000 ev/s | 3 | ≥ batched baseline | **no** |" in table
    )
    assert "| Streaming ÷ batched baseline | 0.8× |  | 1 | ≥ 1× | **no** |" in table
    assert "| Streaming ÷ per-event baseline | 25.0× |  | 1 |  |  |" in table
    assert "| Before: the three-query job, same backlog, whole run | 20,000 ev/s |  | 1 |  |  |" in table
    assert "| One pass ÷ three queries, whole run | 2.5× |  | 1 |  |  |" in table
    assert (
        "| Page poll (`/api/snapshot`) after a write, 10,000 rows: server time, p50 | 12.0 ms |  | 1 | ≤ 20 ms | yes |"
        in table
    )
    assert (
        "| Page poll (`/api/snapshot`) after a write, 1,000,000 rows: server time, p50 | 31.0 ms"
        " |  | 1 | ≤ 20 ms | **no** |" in table
    )
    assert "| … the viewer's wait after a write (answer refreshed ahead), p50 | 4.0 ms |  | 1 |  |  |" in table
    assert "| … before: the page's seven requests, p50 | 900 ms |  | 1 |  |  |" in table
    assert table.count("… before: the page's seven requests") == 1  # only where it was measured
    assert "| 500 viewers polling every 5 s, batches committing: p99 | 62.0 ms |  | 1 | ≤ 50 ms | **no** |" in table
    assert "| … errors | 0 |  | 1 | 0 | yes |" in table
    assert "| … answered 304 Not Modified | 25 % |  | 1 |  |  |" in table
    assert "streaming yes, three-query job yes, per-event baseline yes, batched baseline yes" in table
    readme = f"# Title\n{README_START}\nold\n{README_END}\nafter\n"
    assert replace_between_markers(readme, "new") == f"# Title\n{README_START}\nnew\n{README_END}\nafter\n"
    with pytest.raises(ValueError):
        replace_between_markers("# no markers", "new")


def test_viewer_requests_are_summarized_with_errors_apart_from_304s():
    requests = [(0.010, 200), (0.020, 304), (0.030, 304), (0.040, "ClientConnectorError"), (1.0, 503)]
    summary = summarize_viewers(requests, seconds=5)
    assert summary["requests"] == 5 and summary["requests_per_second"] == 1.0
    assert summary["errors"] == 2
    assert summary["statuses"] == {"200": 1, "304": 2, "ClientConnectorError": 1, "503": 1}
    assert summary["not_modified_share"] == 0.4
    assert summary["p50"] == 0.03 and summary["max"] == 1.0
    paths = viewer_paths(500)
    assert paths == viewer_paths(500) and all(p.startswith("/api/snapshot?window=") for p in paths)
    assert 0.6 < sum("window=1m" in p for p in paths) / 500 < 0.8  # mostly 1-minute candles
