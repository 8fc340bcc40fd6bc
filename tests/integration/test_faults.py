"""Faults injected into the real servers: nothing published is lost, the final table is exact.
The outages last 20 s, as long as the issue asks for; the waits around them are on conditions."""

import logging
import os
import random
import signal
import subprocess
import sys
import time

import psycopg2
import pytest

from common.settings import REPO_ROOT
from devstack.process import wait_until
from tests.faults import STREAMING_ARGS, batches_written, kill_9, ledger, producer_totals, report, start, stop
from tests.helpers import publish, read_messages, run_module, table_rows, trades
from tests.reference import assert_rows_match, reference_aggregates

log = logging.getLogger("faults")

OUTAGE_SECONDS = 20
KILLS = 3


def test_kafka_down_for_20_s_under_the_producer_and_the_job_loses_nothing(
    stack, db, pipeline_env, topic_factory, tmp_path
):
    if stack.kafka is None:
        pytest.skip("the tests did not start this broker, so they do not stop it")
    topic = topic_factory("kafka-down")
    env = pipeline_env(topic)
    producer_log, job_log = tmp_path / "producer.log", tmp_path / "streaming.log"
    producer = start("producer", ["--source", "synthetic", "--rate", "100", "--interval", "0.5"], env, producer_log)
    job = start("streaming", STREAMING_ARGS, env, job_log)
    restarts = 0
    try:
        wait_until(lambda: "aggregates-1m batch 1:" in job_log.read_text(), 240, "two batches",
                   alive=lambda: job.poll() is None)
        stack.kafka.stop()
        time.sleep(OUTAGE_SECONDS)  # the outage itself
        stack.kafka.start()
        before = len(read_messages(stack.bootstrap_servers, topic))
        wait_until(lambda: len(read_messages(stack.bootstrap_servers, topic)) > before + 200, 120,
                   "200 more messages", alive=lambda: producer.poll() is None)
        assert stop(producer, timeout=60) == 0, producer_log.read_text()
        if job.poll() is not None:  # the job gave up during the outage: it must say why, then resume
            assert job.returncode == 1 and "query aggregates-1m failed" in job_log.read_text()
            job, restarts = start("streaming", STREAMING_ARGS, env, job_log), 1
        wait_until(lambda: ledger(stack.bootstrap_servers, stack.database_url, topic, job_log.read_text()).balanced,
                   180, "every event accounted for", alive=lambda: job.poll() is None)
        assert stop(job) == 0, job_log.read_text()[-3000:]
    finally:
        for process in (producer, job):
            kill_9(process)
    counts = ledger(stack.bootstrap_servers, stack.database_url, topic, job_log.read_text())
    report(f"Kafka down {OUTAGE_SECONDS} s ({restarts} job restarts)", counts)
    messages = read_messages(stack.bootstrap_servers, topic)
    assert producer_totals(producer_log.read_text()) == (len(messages), 0)
    assert len(messages) == len({m["id"] for m in messages})  # no loss, no duplicates
    assert "Traceback" not in producer_log.read_text()
    assert counts.balanced
    assert_rows_match(table_rows(db), reference_aggregates(messages, [60, 300]))


def test_postgres_down_for_20_s_leaves_the_table_exact(stack, db, topic_factory, pipeline_env, tmp_path):
    if stack.postgres is None:
        pytest.skip("the tests did not start this Postgres, so they do not stop it")
    topic = topic_factory("pg-down")
    events = trades(6000, seed=4)
    publish(stack.bootstrap_servers, topic, events)
    env = pipeline_env(topic)
    log_path = tmp_path / "streaming.log"
    with log_path.open("w") as log:
        job = subprocess.Popen(
            [sys.executable, "-m", "streaming", "--trigger", "0 seconds", "--max-offsets-per-trigger", "500",
             "--watermark", "1 hour"],
            cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        try:
            wait_until(lambda: "aggregates-1m batch 1:" in log_path.read_text(), 180, "two batches",
                       alive=lambda: job.poll() is None)
            db.close()
            stack.postgres.stop()
            time.sleep(OUTAGE_SECONDS)  # the outage itself; batches meanwhile are retried
            stack.postgres.start()
            wait_until(lambda: "Postgres write failed" in log_path.read_text(), 120, "a retried write")
            job.send_signal(signal.SIGTERM)  # the driver only: it stops its queries between batches
            job.wait(timeout=120)
        finally:
            if job.poll() is None:
                os.killpg(job.pid, signal.SIGKILL)
                job.wait()
    output = log_path.read_text()
    if job.returncode != 0:  # retries ran out during the outage: the job stopped with the reason
        assert "Postgres unreachable after" in output
    run_module("streaming", "--available-now", "--watermark", "1 hour", env=env)
    connection = psycopg2.connect(stack.database_url)
    try:
        assert_rows_match(table_rows(connection), reference_aggregates(events, [60, 300]))
    finally:
        connection.close()


def test_repeated_kill_9_of_the_job_at_random_points(stack, db, topic_factory, pipeline_env, tmp_path):
    kill_job_repeatedly(stack, db, topic_factory("kills"), pipeline_env, tmp_path, kills=KILLS, seed=20261122)


def kill_job_repeatedly(stack, db, topic, pipeline_env, tmp_path, kills: int, seed: int) -> None:
    """Kill the streaming job with SIGKILL `kills` times at seeded random points, restarting it after
    each; then let it catch up: the table must equal the reference, every event accounted for."""
    events = trades(12_000, seed=seed % 1000)
    publish(stack.bootstrap_servers, topic, events)
    env = pipeline_env(topic)
    job_log = tmp_path / "streaming.log"
    rng = random.Random(seed)
    args = ["--trigger", "0 seconds", "--max-offsets-per-trigger", "1000", "--watermark", "1 hour"]
    points = []
    for kill in range(kills):
        more_batches, jitter = rng.randint(0, 3), rng.uniform(0, 2)
        target = batches_written(db) + more_batches
        job = start("streaming", args, env, job_log)
        try:
            wait_until(lambda: batches_written(db) >= target, 240, f"{target} batches written",
                       alive=lambda: job.poll() is None)
            time.sleep(jitter)  # the random point itself: somewhere inside a batch or between two
        finally:
            kill_9(job)
        points.append((more_batches, round(jitter, 2), batches_written(db)))
    log.info("seed %d: kills after (new batches, then seconds, batches written then) %s", seed, points)
    assert table_rows(db) != reference_aggregates(events, [60, 300])  # the kills did cut it short
    result = run_module("streaming", "--available-now", "--watermark", "1 hour", env=env)
    counts = ledger(stack.bootstrap_servers, stack.database_url, topic, job_log.read_text() + result.stderr)
    report(f"streaming job killed {kills} times (seed {seed})", counts)
    assert counts.balanced and counts.rejected == 0
    assert_rows_match(table_rows(db), reference_aggregates(events, [60, 300]))
