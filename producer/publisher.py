"""Publishing contract messages and dead letters to Kafka with kafka-python."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import TextIO

from kafka import KafkaProducer
from kafka.errors import KafkaTimeoutError

from common.contract import encode_key, encode_message
from common.topics import ensure_topics

log = logging.getLogger(__name__)


RAW_LIMIT = 4000  # characters of a rejected input's text kept in its dead letter


def build_dead_letter(*, source: str, symbol: str | None, raw, reason: str, now_ms: int) -> dict:
    """A dead-letter record: the raw input as it came (text cut at RAW_LIMIT), where from, and why
    it was rejected. Text holding a secret must be redacted before: a cut could split the secret."""
    try:
        json.dumps(raw, allow_nan=False)
    except (TypeError, ValueError):
        raw = repr(raw)  # NaN and other values strict JSON cannot carry, kept as text
    if isinstance(raw, str):
        raw = raw[:RAW_LIMIT]
    return {"source": source, "symbol": symbol, "reason": reason, "raw": raw, "rejected_at": now_ms}


class Publisher:
    """Sends messages with acks=all and batching. Counts the messages delivered and the deliveries that
    failed (from the broker's acknowledgements), and the dead letters queued (when queued)."""

    def __init__(self, bootstrap_servers: str, topic: str, dlq_topic: str, record_path: Path | None = None):
        self.topic = topic
        self.dlq_topic = dlq_topic
        self._bootstrap_servers = bootstrap_servers
        self._producer: KafkaProducer | None = None
        self._lock = threading.Lock()
        self._record_path = record_path
        self._record: TextIO | None = None
        self.delivered = 0
        self.failed = 0
        self.dead_lettered = 0

    def connect(self) -> None:
        """Create the topics when missing, open the producer and the recording file."""
        if self._record_path is not None:
            self._record = self._record_path.open("a", encoding="utf-8")
        ensure_topics(self._bootstrap_servers, [self.topic, self.dlq_topic])
        self._producer = KafkaProducer(
            bootstrap_servers=self._bootstrap_servers,
            client_id="stock-producer",
            acks="all",
            # Retried until delivered for up to two minutes, so a broker restart loses nothing;
            # idempotence keeps retries from duplicating or reordering messages.
            enable_idempotence=True,
            delivery_timeout_ms=120_000,
            linger_ms=20,
            compression_type="gzip",
        )

    def _kafka(self) -> KafkaProducer:
        if self._producer is None:
            raise RuntimeError("Publisher.connect() was not called")
        return self._producer

    def publish(self, message: dict) -> None:
        """Queue one contract message on the main topic, keyed by symbol."""
        value = encode_message(message)
        future = self._kafka().send(self.topic, key=encode_key(message), value=value)
        if self._record is not None:
            self._record.write(value.decode("utf-8") + "\n")
        future.add_callback(self._on_delivered).add_errback(self._on_failed, message["id"])

    def dead_letter(self, record: dict) -> None:
        """Queue one rejected input on the dead-letter topic."""
        value = json.dumps(record, allow_nan=False).encode("utf-8")
        key = (record.get("symbol") or "").encode("utf-8") or None
        future = self._kafka().send(self.dlq_topic, key=key, value=value)
        future.add_errback(self._on_failed, "dead letter")
        self.dead_lettered += 1

    def flush(self, timeout: float | None = 30.0) -> None:
        """Wait until everything queued is delivered or has failed; while Kafka is away, say so and
        keep buffering (the producer goes on retrying in the background)."""
        if self._producer is None:
            return
        try:
            self._producer.flush(timeout=timeout)
        except KafkaTimeoutError:
            log.warning("Kafka has not acknowledged everything within %.0f s; still buffering and retrying", timeout)

    def close(self) -> None:
        """Flush and close the connection and the recording."""
        if self._producer is not None:
            self.flush()
            self._producer.close()
            self._producer = None
        if self._record is not None:
            self._record.close()
            self._record = None

    def _on_delivered(self, _metadata) -> None:
        with self._lock:
            self.delivered += 1

    def _on_failed(self, error: Exception, what: str) -> None:
        with self._lock:
            self.failed += 1
        log.warning("delivery of %s failed: %s", what, error)
