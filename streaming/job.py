"""Extract (Kafka) -> transform (parse, dedupe, window partials) -> load (Postgres): the streaming query."""

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
from streaming.aggregation import deduplicate, keyed_records, window_partials
from streaming.parsing import parse_records
from streaming.sink import Batch, BatchRows, PostgresSink, SinkError

log = logging.getLogger(__name__)

DURATION = re.compile(r"^\s*(\d+)\s+(second|minute|hour|day)s?\s*$")
UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
QUERY_NAME = "aggregates"  # also the name of its checkpoint folder, under CHECKPOINT_DIR/<topic>/


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


def duration_seconds(duration: str) -> int:
    """'5 minutes' -> 300."""
    count, unit = DURATION.match(duration).groups()
    return int(count) * UNIT_SECONDS[unit]


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
        state_rows = sum(op.numRowsTotal for op in progress.stateOperators)
        latest = progress.eventTime.get("max")
        lag = ""
        if latest:
            newest = datetime.fromisoformat(latest.replace("Z", "+00:00"))
            lag = f", event-time lag {time.time() - newest.timestamp():.1f} s"
        if progress.eventTime.get("watermark"):
            lag += f", watermark {progress.eventTime['watermark'][:19]}"
        log.info(
            "%s batch %d: %d rows in (%.0f rows/s), %d ms, %d rows written, %d dropped as late, %d ids in state%s",
            progress.name,
            progress.batchId,
            progress.numInputRows,
            progress.processedRowsPerSecond,
            progress.batchDuration,
            self._rows_written.pop((progress.name, progress.batchId), 0),
            dropped,
            state_rows,
            lag,
        )

    def onQueryIdle(self, event):
        pass

    def onQueryTerminated(self, event):
        pass  # main() reports failed queries by name; this event carries only the id


def old_layout_checkpoints(checkpoint_root: Path) -> list[Path]:
    """Checkpoints of the job's earlier layout (one query per window size, one for rejects), if any."""
    return sorted(p for p in checkpoint_root.glob("*") if p.name == "rejects" or p.name.startswith("aggregates-"))


def start_query(spark: SparkSession, settings: Settings, options: JobOptions) -> StreamingQuery:
    """Start the job's one query: read and parse each record once, de-duplicate, write every window size."""
    rows_written: dict = {}
    spark.streams.addListener(BatchLogger(rows_written))
    checkpoint_root = settings.checkpoint_dir / settings.kafka_topic
    checkpoint = checkpoint_root / QUERY_NAME
    old = old_layout_checkpoints(checkpoint_root)
    if old and not checkpoint.exists():
        log.warning(
            "%s holds checkpoints of the earlier one-query-per-window layout (%s), which this job does not read: "
            "it starts its own checkpoint in %s from the topic's earliest offset, and recomputes the windows the "
            "topic still holds; the old folders can be deleted",
            checkpoint_root, ", ".join(p.name for p in old), checkpoint,
        )
    window_seconds = [duration_seconds(w) for w in options.windows]
    watermark_ms = duration_seconds(options.watermark) * 1000
    sink = PostgresSink(settings.database_url)
    query_ids: list[str] = []  # read from the checkpoint once, at the first batch

    def write_batch(batch: DataFrame, batch_id: int) -> None:
        if not query_ids:
            query_ids.append(checkpoint_query_id(checkpoint))
        rows = window_partials(batch, window_seconds).collect()  # one action: the batch is read once
        batch_rows = BatchRows.from_window_partials(rows, watermark_ms)
        try:
            rows_written[(QUERY_NAME, batch_id)] = sink.write(
                Batch(query_ids[0], QUERY_NAME, batch_id), batch_rows
            )
        except SinkError as exc:
            log.error("%s batch %d could not be written: %s", QUERY_NAME, batch_id, exc)
            raise

    records = deduplicate(keyed_records(parse_records(read_topic(spark, settings, options))), options.watermark)
    writer = (
        records.writeStream.queryName(QUERY_NAME)
        .outputMode("append")
        .option("checkpointLocation", str(checkpoint))
        .foreachBatch(write_batch)
    )
    if options.available_now:
        writer = writer.trigger(availableNow=True)
    else:
        writer = writer.trigger(processingTime=options.trigger)
    return writer.start()
