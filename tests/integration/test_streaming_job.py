"""The streaming job as a long-running process: SIGTERM or Ctrl-C lets the batch in flight finish."""

import signal
import subprocess
import sys
import uuid

from common.settings import REPO_ROOT
from devstack.process import wait_until
from reference.aggregates import assert_rows_match, reference_aggregates, table_rows
from tests.faults import checkpoint_batches, kill_9, ledger_batches, start_backlog_job, stop
from tests.helpers import publish, run_module, trades


def test_ctrl_c_lets_the_batch_finish_and_exits_zero(stack, db, topic_factory, pipeline_env, tmp_path):
    """SIGINT, the signal pyspark takes over when Spark starts: the job's own handler is back by the
    first batch. SIGTERM goes through the same handler (tests/unit/test_signals.py); the test
    below sends it while a batch runs."""
    topic = topic_factory("sigint")
    env = pipeline_env(topic)
    run_module("producer", "--source", "synthetic", "--cycles", "2", "--interval", "0.1", env=env)
    log_file = tmp_path / "streaming.log"
    with log_file.open("w") as log:
        job = subprocess.Popen(
            [sys.executable, "-m", "streaming", "--trigger", "1 second"],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until(
                lambda: "aggregates batch 0" in log_file.read_text(),
                120,
                "the first batch",
                alive=lambda: job.poll() is None,
            )
            job.send_signal(signal.SIGINT)
            assert job.wait(timeout=120) == 0, log_file.read_text()
        finally:
            job.kill()
    output = log_file.read_text()
    assert "INFO streaming: stopped" in output
    assert "Traceback" not in output and "InterruptedException" not in output
    assert "did not end within" not in output  # ended between batches, not interrupted after the timeout
    with db.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM stock_aggregates WHERE window_end - window_start = '1 minute'")
        assert cursor.fetchone()[0] >= 8


def test_the_job_can_start_before_the_topic_exists(stack, db, pipeline_env):
    topic = f"test-not-yet-{uuid.uuid4().hex[:8]}"
    result = run_module("streaming", "--available-now", env=pipeline_env(topic))
    assert "INFO streaming: stopped" in result.stderr
    with db.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM stock_aggregates")
        assert cursor.fetchone()[0] == 0


def test_checkpoints_of_the_earlier_layout_are_named_and_never_read(stack, db, topic_factory, pipeline_env, tmp_path):
    topic = topic_factory("old-layout")
    publish(stack.bootstrap_servers, topic, trades(300, seed=4))
    old_root = tmp_path / "checkpoints" / topic
    for name in ("aggregates-1m", "aggregates-5m", "rejects"):
        (old_root / name / "offsets").mkdir(parents=True)
        (old_root / name / "offsets" / "0").write_text('v1\n{}\n{"' + topic + '":{"0":999999}}')  # far ahead
    result = run_module("streaming", "--available-now", "--watermark", "1 hour", env=pipeline_env(topic))
    assert (
        "holds checkpoints of the earlier one-query-per-window layout (aggregates-1m, aggregates-5m, rejects)"
        in result.stderr
    )
    assert (old_root / "aggregates" / "commits" / "0").exists()
    assert_rows_match(table_rows(db), reference_aggregates(trades(300, seed=4), [60, 300]))  # from the start


def test_a_stop_signal_during_a_batch_lets_it_commit_and_starts_no_other(
    stack, db, topic_factory, pipeline_env, tmp_path
):
    """A backlog read 1,000 records a batch, back to back: SIGTERM lands while a batch runs. That batch
    is written and committed, and no other starts: each logged offsets/N has its commits/N and its
    row in the batch ledger."""
    topic = topic_factory("sigterm-mid-batch")
    publish(stack.bootstrap_servers, topic, trades(10_000, seed=7))  # 10 batches: 3 before the stop, some left
    env = pipeline_env(topic)
    checkpoint = tmp_path / "checkpoints" / topic / "aggregates"
    offsets_log, commits_log = checkpoint / "offsets", checkpoint / "commits"
    log_file = tmp_path / "streaming.log"

    job = start_backlog_job(env, log_file, per_batch=1000, batches=3)
    try:
        # A batch in flight: its offsets are logged, its commit not yet.
        wait_until(
            lambda: checkpoint_batches(offsets_log) - checkpoint_batches(commits_log),
            60,
            "a batch in flight",
            interval=0.005,
        )
        in_flight = max(checkpoint_batches(offsets_log))
        assert stop(job) == 0, log_file.read_text()  # SIGTERM
    finally:
        kill_9(job)
    output = log_file.read_text()
    assert "INFO streaming: stopped" in output
    assert "Traceback" not in output and "InterruptedException" not in output
    assert "did not end within" not in output  # the batch ended by itself, not interrupted after the timeout
    offsets, commits = checkpoint_batches(offsets_log), checkpoint_batches(commits_log)
    assert max(offsets) == in_flight  # the batch in flight finished, and no other began
    assert offsets == commits == set(range(in_flight + 1))
    assert [batch_id for _, batch_id in ledger_batches(db)] == list(range(in_flight + 1))
    assert f"aggregates batch {in_flight}:" in output
