"""Extract (Kafka) -> transform (parse, dedupe, window) -> load (Postgres): the streaming queries."""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.streaming import StreamingQuery, StreamingQueryListener

from common.settings import Settings
from streaming.aggregation import aggregate_windows, deduplicate_events
from streaming.parsing import parse_records, rejected_records, valid_events
from streaming.sink import Batch, PostgresSink, SinkError

log = logging.getLogger(__name__)

DURATION = re.compile(r"^\s*(\d+)\s+(second|minute|hour|day)s?\s*$")
UNIT_LABELS = {"second": "s", "minute": "m", "hour": "h", "day": "d"}


@dataclass(frozen=True)
class JobOptions:
    """How the job runs, from the command line."""

    windows: tuple[str, ...] = ("1 minute", "5 minutes")
    watermark: str = "2 minutes"
    trigger: str = "5 seconds"
    available_now: bool = False
    max_offsets_per_trigger: int | None = None


def parse_duration(text: str, allow_zero: bool = False) -> str:
    """Normalize '5 minutes' / '1 minute' / '30 seconds'; ValueError for anything else."""
    match = DURATION.match(text)
    if not match or int(match.group(1)) < (0 if allow_zero else 1):
        raise ValueError(f"not a duration like '1 minute' or '30 seconds': {text!r}")
    count, unit = int(match.group(1)), match.group(2)
    return f"{count} {unit}" + ("s" if count != 1 else "")


def duration_label(duration: str) -> str:
    """'5 minutes' -> '5m', the short form used in query and checkpoint names."""
    count, unit = DURATION.match(duration).groups()
    return f"{count}{UNIT_LABELS[unit]}"


def read_topic(spark: SparkSession, settings: Settings, options: JobOptions) -> DataFrame:
    """The topic as a stream of Kafka records, from the earliest offset for a new checkpoint."""
    reader = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", settings.kafka_bootstrap_servers)
        .option("subscribe", settings.kafka_topic)
        .option("startingOffsets", "earliest")
    )
    if options.max_offsets_per_trigger:
        reader = reader.option("maxOffsetsPerTrigger", str(options.max_offsets_per_trigger))
    return reader.load()


def checkpoint_query_id(checkpoint: Path) -> str:
    """The id Spark keeps for a query in its checkpoint: the same across restarts, new for a new checkpoint."""
    return json.loads((checkpoint / "metadata").read_text())["id"]


class BatchLogger(StreamingQueryListener):
    """One log line per micro-batch: rows in, speed, duration, rows written, late drops, lag."""

    def __init__(self, rows_written: dict):
        self._rows_written = rows_written

    def onQueryStarted(self, event):
        log.info("query %s started", event.name)

    def onQueryProgress(self, event):
        progress = event.progress
        dropped = sum(op.numRowsDroppedByWatermark for op in progress.stateOperators)
        latest = progress.eventTime.get("max")
        lag = ""
        if latest:
            newest = datetime.fromisoformat(latest.replace("Z", "+00:00"))
            lag = f", event-time lag {time.time() - newest.timestamp():.1f} s"
        if progress.eventTime.get("watermark"):
            lag += f", watermark {progress.eventTime['watermark'][:19]}"
        log.info(
            "%s batch %d: %d rows in (%.0f rows/s), %d ms, %d rows written, %d dropped as late%s",
            progress.name,
            progress.batchId,
            progress.numInputRows,
            progress.processedRowsPerSecond,
            progress.batchDuration,
            self._rows_written.pop((progress.name, progress.batchId), 0),
            dropped,
            lag,
        )

    def onQueryIdle(self, event):
        pass

    def onQueryTerminated(self, event):
        pass  # main() reports failed queries by name; this event carries only the id


def start_queries(spark: SparkSession, settings: Settings, options: JobOptions) -> list[StreamingQuery]:
    """Start the rejects query and one aggregation query per window size."""
    # Spark allows one streaming aggregation per query in update mode, so each window size
    # is its own query, with its own checkpoint, reading the same topic.
    rows_written: dict = {}
    spark.streams.addListener(BatchLogger(rows_written))
    checkpoint_root = settings.checkpoint_dir / settings.kafka_topic
    parsed = parse_records(read_topic(spark, settings, options))

    def start(frame: DataFrame, name: str, mode: str, write) -> StreamingQuery:
        sink = PostgresSink(settings.database_url)
        checkpoint = checkpoint_root / name
        query_ids: list[str] = []  # read from the checkpoint once, at the first batch

        def write_batch(batch: DataFrame, batch_id: int) -> None:
            if not query_ids:
                query_ids.append(checkpoint_query_id(checkpoint))
            try:
                rows_written[(name, batch_id)] = write(sink, Batch(query_ids[0], name, batch_id), batch)
            except SinkError as exc:
                log.error("%s batch %d could not be written: %s", name, batch_id, exc)
                raise

        writer = (
            frame.writeStream.queryName(name)
            .outputMode(mode)
            .option("checkpointLocation", str(checkpoint))
            .foreachBatch(write_batch)
        )
        if options.available_now:
            writer = writer.trigger(availableNow=True)
        else:
            writer = writer.trigger(processingTime=options.trigger)
        return writer.start()

    queries = [start(rejected_records(parsed), "rejects", "append", PostgresSink.insert_rejects)]
    events = valid_events(parsed)
    for window in options.windows:
        aggregates = aggregate_windows(deduplicate_events(events, options.watermark), window)
        queries.append(
            start(aggregates, f"aggregates-{duration_label(window)}", "update", PostgresSink.upsert_aggregates)
        )
    return queries
