"""The local Kafka's node layout and the topics' replication, as pure functions."""

import re
from pathlib import Path

from common.topics import replication_for
from devstack.kafka import broker_properties, new_cluster_id, node_ports


def test_replication_follows_the_cluster_up_to_three_copies_two_in_sync():
    assert [replication_for(n) for n in (1, 2, 3, 5)] == [(1, 1), (2, 2), (3, 2), (3, 2)]


def test_nodes_take_consecutive_port_pairs_from_the_bootstrap_port():
    assert [node_ports(9092, n) for n in (1, 2, 3)] == [(9092, 9093), (9094, 9095), (9096, 9097)]


def test_every_node_of_a_cluster_votes_and_internal_topics_are_replicated():
    properties = dict(
        line.split("=", 1) for line in broker_properties("localhost", 9092, 2, 3, Path("/data")).splitlines() if line
    )
    assert properties["node.id"] == "2"
    assert properties["controller.quorum.voters"] == "1@localhost:9093,2@localhost:9095,3@localhost:9097"
    assert properties["listeners"] == "PLAINTEXT://localhost:9094,CONTROLLER://localhost:9095"
    assert properties["offsets.topic.replication.factor"] == "3"
    assert properties["min.insync.replicas"] == "2"


def test_a_single_node_keeps_one_copy():
    properties = broker_properties("localhost", 9092, 1, 1, Path("/data"))
    assert "controller.quorum.voters=1@localhost:9093" in properties
    assert "offsets.topic.replication.factor=1" in properties and "min.insync.replicas=1" in properties


def test_cluster_ids_never_start_with_a_dash_which_kafka_storage_takes_for_an_option():
    ids = [new_cluster_id() for _ in range(2000)]  # about 31 of them would start with '-' otherwise
    assert not [i for i in ids if i.startswith("-")]
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{22}", i) for i in ids)
