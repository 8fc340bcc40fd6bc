"""Extract (Kafka) -> transform (parse, dedupe, window partials) -> load (Postgres): the streaming query."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.streaming import StreamingQuery

from common.settings import Settings
from streaming.aggregation import WindowPartials, deduplicate, keyed_records
from streaming.durations import duration_seconds
from streaming.graceful_stop import BatchesBegun
from streaming.parsing import parse_records
from streaming.progress import BatchReport
from streaming.sink import Batch, BatchRows, PostgresSink, SinkError

log = logging.getLogger(__name__)

QUERY_NAME = "aggregates"  # also the name of its checkpoint folder, under CHECKPOINT_DIR/<topic>/
# The stateful operator of the job's checkpoints before jvm/dedupe, as Spark names it in their state.
SCANNING_DEDUPE = "dedupeWithinWatermark"
# A batch of at most this many records is aggregated in one task: for a live batch of ~50 records, a
# shuffle stage of its own cost ~90 ms of ~450, and parallelism saves nothing.
SMALL_BATCH_RECORDS = 5_000


@dataclass(frozen=True)
class JobOptions:
    """How the job runs, from the command line."""

    windows: tuple[str, ...] = ("1 minute", "5 minutes")
    watermark: str = "2 minutes"
    # Batches run back to back while data comes (a live batch takes ~0.5 s); when none comes, the job looks
    # four times a second, ~8 % of a core idle, where '0 seconds' would keep a third of a core busy.
    trigger: str = "250 milliseconds"
    available_now: bool = False
    max_offsets_per_trigger: int | None = None
    progress_log: Path | None = None


def read_topic(spark: SparkSession, settings: Settings, options: JobOptions) -> DataFrame:
    """The topic as a stream of Kafka records, from the earliest offset for a new checkpoint."""
    reader = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", settings.kafka_bootstrap_servers)
        .option("subscribe", settings.kafka_topic)
        .option("startingOffsets", "earliest")
        # A consumer's prefetch waits at the broker for new data up to this long, and the next batch's
        # read of that partition waits behind it: 500 ms by default, ~35 ms a live batch.
        .option("kafka.fetch.max.wait.ms", "5")
    )
    if options.max_offsets_per_trigger:
        reader = reader.option("maxOffsetsPerTrigger", str(options.max_offsets_per_trigger))
    return reader.load()


def checkpoint_query_id(checkpoint: Path) -> str:
    """The id Spark keeps for a query in its checkpoint: the same across restarts, new for a new checkpoint."""
    return json.loads((checkpoint / "metadata").read_text())["id"]


@dataclass(frozen=True)
class LoggedBatch:
    """What the checkpoint's offset log says of one batch; None where it cannot say."""

    records: int | None  # Kafka records it reads (unknown for the first batch, which starts at the earliest)
    watermark_ms: int | None  # its watermark: Spark judges the next batch's late events by it


def logged_batch(checkpoint: Path, batch_id: int) -> LoggedBatch:
    """Batch `batch_id` as its offset-log entry (and the previous batch's offsets) describe it."""
    entry = _offset_log_entry(checkpoint, batch_id)
    if entry is None:
        return LoggedBatch(None, None)
    metadata, offsets = entry
    previous = _offset_log_entry(checkpoint, batch_id - 1)
    try:
        watermark_ms = int(metadata["batchWatermarkMs"])
    except (KeyError, TypeError, ValueError):
        watermark_ms = None
    return LoggedBatch(None if previous is None else offsets_between(previous[1], offsets), watermark_ms)


def _offset_log_entry(checkpoint: Path, batch_id: int) -> tuple[dict, dict] | None:
    """An offset-log entry ('v1', the batch metadata, then one line per source): its metadata and the
    source's offsets; None when not readable."""
    try:
        lines = (checkpoint / "offsets" / str(batch_id)).read_text().splitlines()
        return json.loads(lines[1]), json.loads(lines[2])
    except (OSError, ValueError, IndexError):
        return None


def offsets_between(start: dict, end: dict) -> int | None:
    """Records from `start` to `end`, each {topic: {partition: offset}}; None if a partition is new."""
    total = 0
    for topic, partitions in end.items():
        for partition, offset in partitions.items():
            if partition not in start.get(topic, {}):
                return None
            total += offset - start[topic][partition]
    return total


def old_layout_checkpoints(checkpoint_root: Path) -> list[Path]:
    """Checkpoints of the job's earlier layout (one query per window size, one for rejects), if any."""
    return sorted(p for p in checkpoint_root.glob("*") if p.name == "rejects" or p.name.startswith("aggregates-"))


def uses_scanning_dedupe(checkpoint: Path) -> bool:
    """Whether a checkpoint's state was written by Spark's dropDuplicatesWithinWatermark (the job before
    the timer-evicted operator): Spark names its stateful operators in the state's metadata, and refuses
    to restart a checkpoint with another (STREAMING_STATEFUL_OPERATOR_NOT_MATCH_IN_STATE_METADATA)."""
    try:
        text = (checkpoint / "state" / "0" / "_metadata" / "metadata").read_text()
    except OSError:
        return False
    return any(
        json.loads(line).get("operatorInfo", {}).get("operatorName") == SCANNING_DEDUPE
        for line in text.splitlines()[1:]
        if line.startswith("{")
    )


def set_aside(checkpoint: Path) -> Path:
    """Rename a checkpoint the job can no longer restart to a free name beside it; that name."""
    for n in range(1, 1000):
        aside = checkpoint.with_name(f"{checkpoint.name}.{SCANNING_DEDUPE}" + (f".{n}" if n > 1 else ""))
        if not aside.exists():
            checkpoint.rename(aside)
            return aside
    raise RuntimeError(f"no free name beside {checkpoint} to set it aside")


def start_query(
    spark: SparkSession, settings: Settings, options: JobOptions, report: BatchReport, begun: BatchesBegun
) -> StreamingQuery:
    """Start the job's one query: read and parse each record once, de-duplicate, write every window size.
    Each batch is reported to `begun` as its sink function starts (for a stop between batches)."""
    checkpoint_root = settings.checkpoint_dir / settings.kafka_topic
    checkpoint = checkpoint_root / QUERY_NAME
    old = old_layout_checkpoints(checkpoint_root)
    if old and not checkpoint.exists():
        log.warning(
            "%s holds checkpoints of the earlier one-query-per-window layout (%s), which this job does not read: "
            "it starts its own checkpoint in %s from the topic's earliest offset, and recomputes the windows the "
            "topic still holds; the old folders can be deleted",
            checkpoint_root,
            ", ".join(p.name for p in old),
            checkpoint,
        )
    if uses_scanning_dedupe(checkpoint):
        aside = set_aside(checkpoint)
        log.warning(
            "%s was written by the earlier de-duplication (Spark's %s), whose state the job's operator cannot "
            "take over: it is now %s, and the job starts a new checkpoint from the topic's earliest offset, "
            "recomputing the windows the topic still holds; the old folder can be deleted",
            checkpoint,
            SCANNING_DEDUPE,
            aside.name,
        )
    # windows and the watermark are whole seconds (parse_duration allows no milliseconds for them)
    partials = WindowPartials([int(duration_seconds(w)) for w in options.windows])
    sink = PostgresSink(settings.database_url)
    query_ids: list[str] = []  # read from the checkpoint once, at the first batch
    warned_unreadable = False  # the offset log (on a file system this process cannot read): said once

    def write_batch(batch: DataFrame, batch_id: int) -> None:
        nonlocal warned_unreadable
        begun.began(batch_id)
        if not query_ids:
            query_ids.append(checkpoint_query_id(checkpoint))
        logged = logged_batch(checkpoint, batch_id)
        if logged.records is not None and logged.records <= SMALL_BATCH_RECORDS:
            batch = batch.coalesce(1)  # de-duplicated and aggregated in one task, with no shuffle between
        rows = partials.of(batch).collect()  # one action: the batch is read once
        if logged.watermark_ms is None and not warned_unreadable:
            warned_unreadable = True
            log.warning("the checkpoint's offset log is not readable here: closed windows' state is kept")
        batch_rows = BatchRows.from_window_partials(rows, logged.watermark_ms)
        try:
            report.written(batch_id, sink.write(Batch(query_ids[0], QUERY_NAME, batch_id), batch_rows))
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
    query = writer.start()
    log.info("query %s started", QUERY_NAME)
    return query
