"""Stopping a streaming query between micro-batches: the batch in flight is written and committed, none begins.

Spark has no public graceful stop. `stop()` interrupts the batch in flight, which leaves its offsets logged
without a commit (it is replayed at the next start). Setting the query's state to TERMINATED ends the trigger
loop after the current batch, but Spark 4.2 also reads that state once inside a batch, after planning it,
and interrupts the batch there (`MicroBatchExecution.runBatch`). So the state is set only at a moment known
to be safe, found under the query's progress lock (held by Spark while it logs offsets and commits):
- a batch is in flight and its sink function has begun it, which is after that check; or
- no batch is in flight and the query thread sleeps between triggers (before its next check of the state).
"""

from __future__ import annotations

import logging
import time

from py4j.clientserver import ClientServer
from py4j.protocol import Py4JError
from pyspark.errors import StreamingQueryException
from pyspark.sql import SparkSession
from pyspark.sql.streaming import StreamingQuery

log = logging.getLogger(__name__)


class BatchesBegun:
    """The newest batch id the sink's batch function has begun. It runs on py4j's callback thread; one
    attribute written there and read by the main thread needs no lock."""

    def __init__(self):
        self.latest: int | None = None

    def began(self, batch_id: int) -> None:
        self.latest = batch_id


def safe_to_end(in_flight: int | None, latest_begun: int | None, thread_sleeping: bool) -> bool:
    """Whether TERMINATED set now ends the query after a committed batch with no new one begun.

    `in_flight`: the batch whose offsets are logged and not committed (None when every one is committed).
    A batch in flight is past Spark's check once its sink function has begun it; otherwise the query
    thread must be asleep between triggers, not about to construct a batch."""
    if in_flight is not None:
        return latest_begun == in_flight
    return thread_sleeping


def batch_in_flight(execution) -> int | None:
    """The id of the batch with logged offsets and no commit, from the query's checkpoint logs (py4j)."""
    offsets = execution.offsetLog().getLatestBatchId()
    if offsets.isEmpty():
        return None
    latest = offsets.get()
    commits = execution.commitLog().getLatestBatchId()
    return None if commits.isDefined() and commits.get() >= latest else latest


def stop_between_batches(
    spark: SparkSession, query: StreamingQuery, begun: BatchesBegun, timeout: float = 120.0, poll_seconds: float = 0.01
) -> None:
    """End `query` after the batch in flight commits, starting no other; then stop() cleans up.

    stop() interrupts only a batch still running after `timeout` seconds, or when another Spark
    version's internals differ (logged)."""
    if query.isActive:
        try:
            _terminate_when_safe(spark, query, begun, timeout, poll_seconds)
        except Py4JError as exc:
            log.warning("could not wait for the batch in flight (%s); stopping it", str(exc).splitlines()[0])
        except StreamingQueryException:
            pass  # the batch failed: the caller reports the query's exception
    query.stop()


def _terminate_when_safe(spark, query, begun: BatchesBegun, timeout: float, poll_seconds: float) -> None:
    if not isinstance(spark.sparkContext._gateway, ClientServer):
        # Without pinned threads, lock and unlock could run on two JVM threads and leave the lock held.
        raise Py4JError("PYSPARK_PIN_THREAD is off")
    runtime = spark.sparkContext._jvm.org.apache.spark.sql.execution.streaming.runtime
    terminated = getattr(getattr(runtime, "TERMINATED$"), "MODULE$")
    execution = query._jsq.streamingQuery()
    progress_lock = execution.awaitProgressLock()
    thread = execution.queryExecutionThread()
    deadline = time.monotonic() + timeout
    while execution.isActive() and time.monotonic() < deadline:
        # tryLock: Spark holds the lock while it asks Kafka for offsets, which can take long.
        if progress_lock.tryLock():
            try:
                sleeping = thread.getState().toString() == "TIMED_WAITING"
                if safe_to_end(batch_in_flight(execution), begun.latest, sleeping):
                    execution.state().set(terminated)
                    break
            finally:
                progress_lock.unlock()
        time.sleep(poll_seconds)
    if not query.awaitTermination(max(deadline - time.monotonic(), 0.001)):
        log.warning(
            "the batch in flight did not end within %.0f s; interrupting it (it is replayed at the next start)", timeout
        )
