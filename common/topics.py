"""The Kafka topics the producer writes and the streaming job reads, created when missing."""

from __future__ import annotations

import logging

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

log = logging.getLogger(__name__)

# Messages are keyed by symbol, so one symbol stays in order on one partition.
TOPIC_PARTITIONS = 3


def ensure_topics(bootstrap_servers: str, topics: list[str], partitions: int = TOPIC_PARTITIONS) -> None:
    """Create the topics that do not exist yet."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="stock-pipeline-admin")
    try:
        existing = set(admin.list_topics())
        missing = [t for t in topics if t not in existing]
        for topic in missing:
            try:
                admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
                log.info("created topic %s with %d partitions", topic, partitions)
            except TopicAlreadyExistsError:
                pass
    finally:
        admin.close()
