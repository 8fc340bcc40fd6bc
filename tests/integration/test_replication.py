"""A 3-node KRaft cluster: topics replicated 3 times with min.insync.replicas=2, and a node killed
with SIGKILL while the producer and the streaming job run loses nothing."""

import json
import logging
import random
import shutil
import uuid

import pytest
from kafka import KafkaAdminClient
from kafka.admin import ConfigResource
from kafka.errors import KafkaError

from common.settings import REPO_ROOT
from common.topics import ensure_topics
from devstack.kafka import KAFKA_JARS_DIR, KafkaCluster
from devstack.process import StackError, is_port_free, wait_until
from reference.aggregates import assert_rows_match, reference_aggregates, table_rows
from tests.faults import STREAMING_ARGS, kill_9, ledger, producer_totals, published_messages, report, start, stop
from tests.helpers import publish

log = logging.getLogger("faults")


def free_port_run(length: int) -> int:
    """The first of `length` consecutive free ports, below the ephemeral range, where no client
    connection (nor another test's free_port()) takes one of them between this check and the bind."""
    rng = random.Random()
    while True:
        base = rng.randrange(20_000, 32_000, 2)
        if all(is_port_free(base + n) for n in range(length)):
            return base


# Its tests share one three-node cluster: under `make test`'s workers they run on the same one.
pytestmark = pytest.mark.xdist_group("kafka-cluster")


@pytest.fixture(scope="module")
def cluster():
    """Three Kafka nodes, each a broker and a controller voter, on free ports; removed afterwards.
    A start that fails (a port taken meanwhile by another program) is retried once on other ports."""
    for attempt in (1, 2):
        state_dir = REPO_ROOT / "var" / f"test-cluster-{uuid.uuid4().hex[:8]}"
        kafka = KafkaCluster(f"localhost:{free_port_run(6)}", state_dir, KAFKA_JARS_DIR, size=3)
        try:
            kafka.start()
            break
        except StackError as exc:
            kafka.stop()
            shutil.rmtree(state_dir, ignore_errors=True)
            if attempt == 2:
                raise
            log.warning("the cluster did not start, trying other ports: %s", exc)
    try:
        yield kafka
    finally:
        kafka.stop()
        shutil.rmtree(state_dir, ignore_errors=True)


def partitions(bootstrap_servers: str, topic: str) -> list[dict]:
    """The topic's partitions as the cluster describes them: leader, replicas, in-sync replicas."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers)
    try:
        [described] = admin.describe_topics([topic])
        return described["partitions"]
    finally:
        admin.close()


def partition_leaders(bootstrap_servers: str, topic: str) -> dict[int, int]:
    """{partition: leader node id}."""
    return {p["partition_index"]: p["leader_id"] for p in partitions(bootstrap_servers, topic)}


def described_topic(bootstrap_servers: str, topic: str) -> tuple[list[dict], dict] | None:
    """(partitions, min.insync.replicas entry whatever its source) of the topic as the brokers asked
    describe it; None while one of those has not applied the topic's creation yet: a KRaft broker
    learns of it from the controller a moment later, and kafka-python turns its
    UNKNOWN_TOPIC_OR_PARTITION answer to describe_configs into no settings at all."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers)
    try:
        [described] = admin.describe_topics([topic])
        configs = admin.describe_configs([ConfigResource("TOPIC", topic, ["min.insync.replicas"])], config_filter="all")
    finally:
        admin.close()
    min_insync = configs["topic"][topic].get("min.insync.replicas")
    if described["error_code"] != 0 or min_insync is None:
        return None
    return described["partitions"], min_insync


def test_topics_are_replicated_three_times_with_two_in_sync(cluster):
    topic = f"test-replicated-{uuid.uuid4().hex[:8]}"
    ensure_topics(cluster.bootstrap_servers, [topic])
    topic_partitions, min_insync = wait_until(
        lambda: described_topic(cluster.bootstrap_servers, topic), 30, f"the brokers describing {topic}"
    )
    assert [sorted(p["replica_nodes"]) for p in topic_partitions] == [[1, 2, 3]] * 3
    # The topic's own setting, not the brokers' default (which is 2 as well on this cluster).
    assert (min_insync["value"], min_insync["config_source"]) == ("2", "DYNAMIC_TOPIC_CONFIG")


def test_a_node_killed_mid_stream_loses_nothing(cluster, stack, db, pipeline_env, tmp_path):
    kill_nodes_while_running(cluster, stack, db, pipeline_env, tmp_path, kills=1)


@pytest.mark.chaos
def test_every_node_killed_in_turn_mid_stream_loses_nothing(cluster, stack, db, pipeline_env, tmp_path):
    kill_nodes_while_running(cluster, stack, db, pipeline_env, tmp_path, kills=3)


def kill_nodes_while_running(cluster, stack, db, pipeline_env, tmp_path, kills: int) -> None:
    """SIGKILL the leader of partition 0 under the producer and the job, `kills` times (the node
    back before the next kill, so two stay in sync); then check the ledger and the table."""
    topic = f"test-node-kill-{uuid.uuid4().hex[:8]}"
    servers = cluster.bootstrap_servers
    ensure_topics(servers, [topic, f"{topic}-dlq"])
    publish(servers, topic, [b"not json", b'{"id": "x"}'], keys=[b"AAPL", b"AAPL"])  # two rejects
    env = pipeline_env(topic, KAFKA_BOOTSTRAP_SERVERS=servers)
    job_log, producer_log = tmp_path / "streaming.log", tmp_path / "producer.log"
    job = start("streaming", STREAMING_ARGS, env, job_log)
    recording = tmp_path / "queued.jsonl"
    producer = start(
        "producer",
        ["--source", "synthetic", "--rate", "100", "--interval", "0.5", "--record", str(recording)],
        env,
        producer_log,
    )
    victims = []
    try:
        wait_until(
            lambda: "aggregates batch 1:" in job_log.read_text(), 240, "two batches", alive=lambda: job.poll() is None
        )
        for _ in range(kills):
            cluster.start()  # every node up and in sync before the next kill
            wait_until(lambda: in_sync_everywhere(servers, topic), 120, "all replicas in sync")
            victim = partition_leaders(servers, topic)[0]
            before = len(published_messages(servers, topic)[0])
            log.info("killing node %d (leader of partition 0) with %d events published", victim, before)
            cluster.nodes[victim - 1].kill()
            victims.append(victim)
            wait_until(
                lambda before=before: events_readable(servers, topic) > before + 300,
                120,
                "300 more events",
                alive=lambda: producer.poll() is None,
            )
            wait_until(
                lambda victim=victim: leaders_exclude(servers, topic, victim),
                60,
                f"new leaders instead of node {victim}",
            )
        assert stop(producer, timeout=60) == 0, producer_log.read_text()
        wait_until(
            lambda: accounted_for(servers, stack.database_url, topic, job_log.read_text()),
            180,
            "every event accounted for",
            alive=lambda: job.poll() is None,
        )
        assert stop(job) == 0, job_log.read_text()[-3000:]
    finally:
        for process in (producer, job):
            kill_9(process)
        cluster.start()  # the killed node back, for the next test
    counts = ledger(servers, stack.database_url, topic, job_log.read_text())
    report(f"Kafka node(s) {victims} of 3 killed with SIGKILL", counts)
    messages, _ = published_messages(servers, topic)
    # Against what the producer queued, not what it says it delivered: a message lost before
    # delivery would be missing from both of those.
    queued = {json.loads(line)["id"] for line in recording.read_text().splitlines()}
    in_topic = {m["id"] for m in messages}
    assert sorted(queued - in_topic) == []
    assert in_topic == queued
    assert producer_totals(producer_log.read_text()) == (len(messages), 0)
    assert counts.balanced and counts.rejected == 2
    assert_rows_match(table_rows(db), reference_aggregates(messages, [60, 300]))


def unless_unreachable(read, *args):
    """`read(*args)`, or None when it failed on a Kafka connection: while a node is down, the test's
    own reads may hit it and fail, and are retried by the waits."""
    try:
        return read(*args)
    except KafkaError as exc:
        log.info("read failed while a node is down (%s); retrying", exc)
        return None


def events_readable(bootstrap_servers: str, topic: str) -> int:
    """Contract events in the topic, -1 when the read failed."""
    messages = unless_unreachable(published_messages, bootstrap_servers, topic)
    return -1 if messages is None else len(messages[0])


def leaders_exclude(bootstrap_servers: str, topic: str, node: int) -> bool:
    """True when no partition of the topic is led by `node` (False when it could not be read)."""
    leaders = unless_unreachable(partition_leaders, bootstrap_servers, topic)
    return leaders is not None and node not in leaders.values()


def accounted_for(bootstrap_servers: str, database_url: str, topic: str, job_output: str) -> bool:
    """True when the ledger balances (False when it could not be read)."""
    counts = unless_unreachable(ledger, bootstrap_servers, database_url, topic, job_output)
    return counts is not None and counts.balanced


def in_sync_everywhere(bootstrap_servers: str, topic: str) -> bool:
    """True when every replica of every partition of the topic is in sync."""
    return all(sorted(p["isr_nodes"]) == sorted(p["replica_nodes"]) for p in partitions(bootstrap_servers, topic))
