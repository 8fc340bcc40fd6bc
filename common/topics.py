"""The Kafka topics the producer writes and the streaming job reads, created when missing."""

from __future__ import annotations

import logging

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

log = logging.getLogger(__name__)

# Messages are keyed by symbol, so one symbol stays in order on one partition.
TOPIC_PARTITIONS = 3


def replication_for(broker_count: int) -> tuple[int, int]:
    """(replication factor, min.insync.replicas) for a cluster of `broker_count` brokers: three copies
    with two in sync on three brokers or more, so acks=all writes survive the loss of one broker."""
    replication = max(1, min(3, broker_count))
    return replication, min(2, replication)


def ensure_topics(bootstrap_servers: str, topics: list[str], partitions: int = TOPIC_PARTITIONS) -> None:
    """Create the topics that do not exist yet, replicated as far as the cluster allows."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="stock-pipeline-admin")
    try:
        existing = set(admin.list_topics())
        missing = [t for t in topics if t not in existing]
        if not missing:
            return
        replication, min_insync = replication_for(len(admin.describe_cluster()["brokers"]))
        for topic in missing:
            new_topic = NewTopic(
                topic,
                num_partitions=partitions,
                replication_factor=replication,
                topic_configs={"min.insync.replicas": str(min_insync)},
            )
            try:
                admin.create_topics([new_topic])
                log.info(
                    "created topic %s: %d partitions, replication factor %d, min.insync.replicas %d",
                    topic,
                    partitions,
                    replication,
                    min_insync,
                )
            except TopicAlreadyExistsError:
                pass
    finally:
        admin.close()
