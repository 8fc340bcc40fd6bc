"""A 3-node KRaft cluster: topics replicated 3 times with min.insync.replicas=2, and a node killed
with SIGKILL while the producer and the streaming job run loses nothing."""

import logging
import shutil
import uuid

import pytest
from kafka import KafkaAdminClient
from kafka.admin import ConfigResource

from common.settings import REPO_ROOT
from common.topics import ensure_topics
from devstack.kafka import KAFKA_JARS_DIR, KafkaCluster
from devstack.process import free_port, is_port_free, wait_until
from tests.faults import STREAMING_ARGS, ledger, kill_9, producer_totals, published_messages, report, start, stop
from tests.helpers import publish, table_rows
from tests.reference import assert_rows_match, reference_aggregates

log = logging.getLogger("faults")


def free_port_run(length: int) -> int:
    """The first of `length` consecutive free ports."""
    while True:
        base = free_port()
        if all(is_port_free(base + n) for n in range(length)):
            return base


@pytest.fixture(scope="module")
def cluster():
    """Three Kafka nodes, each a broker and a controller voter, on free ports; removed afterwards."""
    state_dir = REPO_ROOT / "var" / f"test-cluster-{uuid.uuid4().hex[:8]}"
    kafka = KafkaCluster(f"localhost:{free_port_run(6)}", state_dir, KAFKA_JARS_DIR, size=3)
    try:
        kafka.start()
        yield kafka
    finally:
        kafka.stop()
        shutil.rmtree(state_dir, ignore_errors=True)


def partition_leaders(bootstrap_servers: str, topic: str) -> dict[int, int]:
    """{partition: leader node id}."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers)
    try:
        [described] = admin.describe_topics([topic])
        return {p["partition_index"]: p["leader_id"] for p in described["partitions"]}
    finally:
        admin.close()


def test_topics_are_replicated_three_times_with_two_in_sync(cluster):
    topic = f"test-replicated-{uuid.uuid4().hex[:8]}"
    ensure_topics(cluster.bootstrap_servers, [topic])
    admin = KafkaAdminClient(bootstrap_servers=cluster.bootstrap_servers)
    try:
        [described] = admin.describe_topics([topic])
        configs = admin.describe_configs([ConfigResource("TOPIC", topic, ["min.insync.replicas"])])
    finally:
        admin.close()
    assert [sorted(p["replica_nodes"]) for p in described["partitions"]] == [[1, 2, 3]] * 3
    assert configs["topic"][topic]["min.insync.replicas"]["value"] == "2"


def test_a_node_killed_mid_stream_loses_nothing(cluster, stack, db, pipeline_env, tmp_path):
    topic = f"test-node-kill-{uuid.uuid4().hex[:8]}"
    servers = cluster.bootstrap_servers
    ensure_topics(servers, [topic, f"{topic}-dlq"])
    publish(servers, topic, [b"not json", b'{"id": "x"}'], keys=[b"AAPL", b"AAPL"])  # two rejects
    env = pipeline_env(topic, KAFKA_BOOTSTRAP_SERVERS=servers)
    job_log, producer_log = tmp_path / "streaming.log", tmp_path / "producer.log"
    job = start("streaming", STREAMING_ARGS, env, job_log)
    producer = start("producer", ["--source", "synthetic", "--rate", "100", "--interval", "0.5"], env, producer_log)
    try:
        wait_until(lambda: "aggregates-1m batch 2:" in job_log.read_text(), 240, "three batches",
                   alive=lambda: job.poll() is None)
        victim = partition_leaders(servers, topic)[0]
        before = len(published_messages(servers, topic)[0])
        log.info("killing node %d (leader of partition 0) with %d events published", victim, before)
        cluster.nodes[victim - 1].kill()
        wait_until(lambda: len(published_messages(servers, topic)[0]) > before + 300, 120, "300 more events",
                   alive=lambda: producer.poll() is None)
        assert victim not in partition_leaders(servers, topic).values()
        assert stop(producer, timeout=60) == 0, producer_log.read_text()
        wait_until(lambda: ledger(servers, stack.database_url, topic, job_log.read_text()).balanced, 180,
                   "every event accounted for", alive=lambda: job.poll() is None)
        assert stop(job) == 0, job_log.read_text()[-3000:]
    finally:
        for process in (producer, job):
            kill_9(process)
        cluster.start()  # the killed node back, for the next test
    counts = ledger(servers, stack.database_url, topic, job_log.read_text())
    report(f"broker node {victim} killed", counts)
    messages, _ = published_messages(servers, topic)
    delivered, failed = producer_totals(producer_log.read_text())
    assert (delivered, failed) == (len(messages), 0)
    assert counts.balanced and counts.rejected == 2
    assert_rows_match(table_rows(db), reference_aggregates(messages, [60, 300]))
