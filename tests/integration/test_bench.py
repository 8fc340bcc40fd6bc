"""A smoke run of the benchmark harness with tiny sizes on the test stack (the real figures come
from `make bench`). Marked `bench`: `make bench-quick` runs them, `make test` does not."""

import subprocess

import pytest

from bench.history import extract_three_query_job
from bench.loadgen import SYMBOLS, partition_groups
from bench.stack import BenchStack
from bench.throughput import prepare_backlog, run_baseline, run_streaming
from bench.webapi import measure_web_api
from bench.webpage import measure_web_page
from common.settings import REPO_ROOT

pytestmark = [pytest.mark.bench, pytest.mark.timeout(300)]


def full_history() -> bool:
    """Is this a git checkout with its whole history (bench.history takes earlier versions from it)?"""
    shallow = subprocess.run(
        ["git", "rev-parse", "--is-shallow-repository"], cwd=REPO_ROOT, capture_output=True, text=True
    ).stdout.strip()
    return shallow == "false"


@pytest.fixture
def bench_stack(stack, db):
    """The test servers, seen through the harness's stack interface (it starts none of its own)."""
    return BenchStack(stack.bootstrap_servers, stack.database_url)


def test_the_backlog_harness_measures_streaming_and_both_baselines_exactly(bench_stack, tmp_path):
    backlog = prepare_backlog(bench_stack, 3_000, "gzip")  # kafka-python reads gzip without extras
    assert backlog["generator"]["events"] == sum(3_000 * len(group) // len(SYMBOLS) for group in partition_groups())

    streaming = run_streaming(bench_stack, backlog, tmp_path, "smoke")
    per_event = run_baseline(bench_stack, backlog, "per_event", limit=400)
    batched = run_baseline(bench_stack, backlog, "batched", limit=None)

    events = backlog["generator"]["events"]
    for result, counted in ((streaming, events), (per_event, 400), (batched, events)):
        assert result["exact"], result["problem"]
        assert result["events_per_second"] == pytest.approx(counted / result["seconds"])
    assert streaming["rows"] == batched["rows"] == len(backlog["expected"])
    assert per_event["events"] == 400
    assert set(streaming["breakdown"]) == {"aggregates"}  # one query reads the topic once
    assert streaming["breakdown"]["aggregates"]["rows"] == backlog["generator"]["events"]
    # The state holds de-duplication ids and open windows: at least the 8 symbols' last windows, at
    # most one id per event plus its windows.
    assert 8 <= streaming["state"]["rows"] <= 3 * events
    assert streaming["peak_rss_bytes"] > 256 * 2**20  # the driver and its JVM were sampled, not a stub


def test_the_three_query_job_from_history_runs_exactly_on_the_same_backlog(bench_stack, tmp_path):
    if not full_history():
        pytest.skip("the three-query job is taken from the repository's history: a full git clone has it")
    backlog = prepare_backlog(bench_stack, 2_000, "gzip")
    tree = extract_three_query_job(tmp_path)
    assert tree is not None

    before = run_streaming(bench_stack, backlog, tmp_path, "smoke-before", tree=tree)

    assert before["exact"], before["problem"]
    assert set(before["breakdown"]) == {"aggregates-1m", "aggregates-5m", "rejects"}  # each reads the topic
    assert all(q["rows"] == backlog["generator"]["events"] for q in before["breakdown"].values())
    assert before["batches"] == 2  # one batch of each aggregation query


def test_the_web_harness_loads_both_endpoints_with_wrk(bench_stack, tmp_path):
    result = measure_web_api(bench_stack, tmp_path, rows=20_000, runs=1, seconds=1, clients=10)
    assert result["rows"] == 20_000
    for endpoint in ("latest", "aggregates"):
        run = result["runs"][endpoint][0]
        assert run["errors"] == 0
        assert 0 < run["p50"] <= run["p99"]
        assert run["requests_per_second"] >= 1.0  # a 1 s run that answered at least once
    assert result["webapp_peak_rss_bytes"] > 20 * 2**20  # a Python process with Flask loaded was sampled


def test_the_page_harness_measures_poll_cost_and_viewers_without_errors(bench_stack, tmp_path):
    result = measure_web_page(
        bench_stack, tmp_path, history_rows=(2_000,), polls=3, viewers=20, viewer_seconds=3, poll_seconds=1
    )
    cost = result["poll_cost"]["2000"]
    assert cost["server"]["samples"] == cost["fresh"]["samples"] == cost["cached"]["samples"] == 3
    assert cost["server"]["p50"] > 0  # read from the answers' Server-Timing
    viewers = result["viewers"]
    assert viewers["errors"] == 0 and viewers["viewers"] == 20
    assert 40 <= viewers["requests"] <= 80  # 20 viewers, one poll a second for 3 s
    assert viewers["batches_committed"] >= 2
    if full_history():  # the webapp of before, from history, measured on the same table
        assert result["seven_request_poll_cost"]["2000"]["fresh"]["samples"] == 3
