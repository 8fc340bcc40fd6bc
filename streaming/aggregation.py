"""One pass over the records: de-duplication (the job's only Spark state), then each micro-batch's partial
aggregates of every window size, which the sink folds into the windows in Postgres."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from streaming.durations import duration_seconds
from streaming.parsing import stored_raw_value

AGGREGATE_COLUMNS = (
    "symbol",
    "window_start",
    "window_end",
    "open_price",
    "high_price",
    "low_price",
    "close_price",
    "avg_price",
    "price_stddev",
    "event_count",
    "volume",
    "vwap",
    "first_event_at",
    "last_event_at",
)
# What a window needs to merge exactly with another part of itself (stock_window_state).
PARTIAL_COLUMNS = (
    "symbol",
    "window_start_ms",
    "window_end_ms",
    "open_ms",
    "open_id",
    "open_price",
    "close_ms",
    "close_id",
    "close_price",
    "high_price",
    "low_price",
    "event_count",
    "price_sum",
    "price_m2",
    "volume",
    "price_volume_sum",
)
REJECT_COLUMNS = ("topic", "partition", "kafka_offset", "raw_value", "reason")
# An event is known by its id; a reject, which may have none, by its place in the topic.
DEDUPLICATION_KEY = ["id", "partition", "kafka_offset"]
# The streaming de-duplication (jvm/dedupe's DedupeWithinWatermark, built by `make setup`): ids grouped by
# event-time bucket and shard, each group forgotten by one event-time timer once the watermark passes its
# bucket's end (Spark's dropDuplicatesWithinWatermark scanned every id it held at every batch). A copy is
# recognised in its original's bucket: it carries its original's event time, since an id names one
# observation; once forgotten, a copy's event time is behind the watermark and Spark drops it as late.
DEDUPE_BUCKET_MS = 5_000
# Groups per bucket: a second's 50,000 ids spread over the shuffle partitions, a handful of timers a batch.
DEDUPE_SHARDS = 16


def keyed_records(parsed: DataFrame) -> DataFrame:
    """Valid events and rejects in one frame: an event keeps its fields, a reject its place and reason."""
    is_event = F.col("reason").isNull()

    def event(name: str):
        return F.when(is_event, F.col(name)).alias(name)

    def reject(column, name: str):
        return F.when(~is_event, column).alias(name)

    return parsed.select(
        *[event(name) for name in ("id", "symbol", "price", "volume", "event_time")],
        # A reject has no event time: it moves no watermark, is never late, and its key expires at once.
        F.when(is_event, F.timestamp_millis("event_time")).alias("event_ts"),
        reject(F.col("topic"), "topic"),
        reject(F.col("partition"), "partition"),
        reject(F.col("offset"), "kafka_offset"),
        reject(stored_raw_value(F.col("raw_value")), "raw_value"),
        "reason",
    )


def deduplicate(records: DataFrame, watermark: str) -> DataFrame:
    """Drop repeated ids (a re-polled quote, a resent message) within the watermark; every reject stays.

    A stream gets the watermark on event_ts and the JVM operator: a reject (no event time) passes it
    without state, an event before the previous batch's watermark is dropped and counted."""
    if not records.isStreaming:
        return records.dropDuplicates(DEDUPLICATION_KEY)  # a static frame has no late data and no state to bound
    spark = records.sparkSession
    operator = spark._jvm.local.stockpipeline.dedupe.DedupeWithinWatermark  # type: ignore[union-attr]
    delay_ms = int(duration_seconds(watermark) * 1000)
    deduplicated = operator.apply(records._jdf, "id", "event_ts", delay_ms, DEDUPE_BUCKET_MS, DEDUPE_SHARDS)
    return DataFrame(deduplicated, spark)


class WindowPartials:
    """One row per symbol and window of every size with a batch's part of that window, and one per reject.

    The expressions are built once (a Spark session must be active) and reused by every batch: building
    them takes about a hundred py4j calls, which was a live batch's largest cost in Python."""

    def __init__(self, window_seconds: list[int]):
        self._sizes, self._grouping, self._aggregates, self._outputs = self._build(list(window_seconds))

    def of(self, batch: DataFrame) -> DataFrame:
        """The partials of one batch of de-duplicated keyed records."""
        return (
            batch.withColumn("window_seconds", self._sizes)
            .groupBy(*self._grouping)
            .agg(*self._aggregates)
            .select(*self._outputs)
        )

    @staticmethod
    def _build(window_seconds: list[int]) -> tuple:
        is_event = F.col("reason").isNull()
        sizes = F.explode(F.when(is_event, F.array(*[F.lit(s) for s in window_seconds])).otherwise(F.array(F.lit(0))))
        size_ms = F.col("window_seconds").cast("long") * 1000
        window_start = F.when(is_event, F.col("event_time") - F.pmod(F.col("event_time"), size_ms))
        # Earliest/latest by event time, equal times ordered by id, so open and close are deterministic.
        first, last = F.min(F.struct("event_time", "id", "price")), F.max(F.struct("event_time", "id", "price"))
        count = F.count(F.lit(1))
        grouping = [
            F.col("symbol"),
            window_start.alias("window_start_ms"),
            size_ms.alias("size_ms"),
            *[F.col(name) for name in REJECT_COLUMNS[:3]],
        ]
        aggregates = [
            first.alias("first"),
            last.alias("last"),
            F.max("price").alias("high_price"),
            F.min("price").alias("low_price"),
            count.alias("event_count"),
            F.sum("price").alias("price_sum"),
            (F.var_pop("price") * count).alias("price_m2"),
            F.sum("volume").alias("volume"),
            F.sum(F.col("price") * F.col("volume")).alias("price_volume_sum"),
            F.first("raw_value", ignorenulls=True).alias("raw_value"),
            F.first("reason", ignorenulls=True).alias("reason"),
        ]
        outputs = [
            F.col("symbol"),
            F.col("window_start_ms"),
            (F.col("window_start_ms") + F.col("size_ms")).alias("window_end_ms"),
            F.col("first.event_time").alias("open_ms"),
            F.col("first.id").alias("open_id"),
            F.col("first.price").alias("open_price"),
            F.col("last.event_time").alias("close_ms"),
            F.col("last.id").alias("close_id"),
            F.col("last.price").alias("close_price"),
            *[F.col(name) for name in PARTIAL_COLUMNS[9:]],
            *[F.col(name) for name in REJECT_COLUMNS],
        ]
        return sizes, grouping, aggregates, outputs
