"""Event-time tumbling-window aggregates of valid events, in the columns of stock_aggregates."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

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


def deduplicate_events(events: DataFrame, watermark: str) -> DataFrame:
    """Drop repeated ids (a re-polled quote, a resent message) within the watermark."""
    watermarked = events.withWatermark("event_ts", watermark)
    if events.isStreaming:
        return watermarked.dropDuplicatesWithinWatermark(["id"])
    return watermarked.dropDuplicates(["id"])  # a static frame has no late data and no state to bound


def aggregate_windows(events: DataFrame, window_duration: str) -> DataFrame:
    """OHLC, mean, sample stddev, count, volume, VWAP and first/last time per symbol and window."""
    # Earliest/latest by event time; equal times are ordered by id so open/close are deterministic.
    order = F.struct("event_time", "id")
    with_volume = F.col("volume").isNotNull()
    return (
        events.groupBy("symbol", F.window("event_ts", window_duration).alias("window"))
        .agg(
            F.min_by("price", order).alias("open_price"),
            F.max("price").alias("high_price"),
            F.min("price").alias("low_price"),
            F.max_by("price", order).alias("close_price"),
            F.avg("price").alias("avg_price"),
            F.stddev_samp("price").alias("price_stddev"),
            F.count(F.lit(1)).alias("event_count"),
            F.sum("volume").alias("volume"),
            F.try_divide(
                F.sum(F.when(with_volume, F.col("price") * F.col("volume"))), F.sum("volume")
            ).alias("vwap"),
            F.min("event_ts").alias("first_event_at"),
            F.max("event_ts").alias("last_event_at"),
        )
        .select(
            "symbol",
            F.col("window.start").alias("window_start"),
            F.col("window.end").alias("window_end"),
            *AGGREGATE_COLUMNS[3:],
        )
    )
