"""Faults injected into the real servers: nothing published is lost, the final table is exact.
The outages last 20 s, as long as the issue asks for; the waits around them are on conditions."""

import os
import re
import signal
import subprocess
import sys
import time

import psycopg2
import pytest

from common.settings import REPO_ROOT
from devstack.process import wait_until
from tests.helpers import publish, read_messages, run_module, table_rows, trades
from tests.reference import assert_rows_match, reference_aggregates

OUTAGE_SECONDS = 20


def test_kafka_down_for_20_s_loses_nothing_the_producer_published(stack, pipeline_env, topic_factory, tmp_path):
    if stack.kafka is None:
        pytest.skip("the tests did not start this broker, so they do not stop it")
    topic = topic_factory("kafka-down")
    log_path = tmp_path / "producer.log"
    with log_path.open("w") as log:
        producer = subprocess.Popen(
            [sys.executable, "-m", "producer", "--source", "synthetic", "--rate", "100", "--interval", "0.5"],
            cwd=REPO_ROOT, env=pipeline_env(topic), stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            wait_until(lambda: len(read_messages(stack.bootstrap_servers, topic)) >= 100, 120, "100 messages")
            stack.kafka.stop()
            time.sleep(OUTAGE_SECONDS)  # the outage itself
            stack.kafka.start()
            before = len(read_messages(stack.bootstrap_servers, topic))
            wait_until(lambda: len(read_messages(stack.bootstrap_servers, topic)) > before + 200, 120, "200 more messages")
            producer.send_signal(signal.SIGTERM)
            assert producer.wait(timeout=60) == 0, log_path.read_text()
        finally:
            producer.kill()
    output = log_path.read_text()
    delivered = int(re.search(r"(\d+) delivered, \d+ dead-lettered, 0 failed deliveries", output).group(1))
    messages = read_messages(stack.bootstrap_servers, topic)
    assert len(messages) == delivered == len({m["id"] for m in messages})  # no loss, no duplicates
    assert "Traceback" not in output


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
