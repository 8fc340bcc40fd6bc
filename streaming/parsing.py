"""Kafka records -> typed contract events, or a rejection reason for each record that is not one."""

from __future__ import annotations

from functools import reduce

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from common.contract import MESSAGE_FIELDS, SOURCES, SYMBOL_PATTERN

SPARK_TYPES = {"string": T.StringType(), "double": T.DoubleType(), "long": T.LongType()}
# Spark's JSON reader turns any value (5, [], {...}) into a string; only a variant still says whether
# the JSON value was a string. symbol and source need no such care (no non-string passes their
# pattern or list), so only id pays for it.
VARIANT_FIELDS = ("id",)
CORRUPT_COLUMN = "_corrupt_record"
RAW_VALUE_LIMIT = 4096  # characters of a rejected value kept in rejected_events

# event_time must be a real exchange time in epoch milliseconds: 2000-01-01 .. 2100-01-01.
EARLIEST_EVENT_MS = 946_684_800_000
LATEST_EVENT_MS = 4_102_444_800_000


def message_schema() -> T.StructType:
    """The Spark schema of a contract message, from the shared contract, plus the corrupt-record slot."""
    fields = [
        T.StructField(f.name, T.VariantType() if f.name in VARIANT_FIELDS else SPARK_TYPES[f.kind], True)
        for f in MESSAGE_FIELDS
    ]
    return T.StructType([*fields, T.StructField(CORRUPT_COLUMN, T.StringType(), True)])


def _json_string(column: Column) -> Column:
    """The text of a variant holding a JSON string; null for any other JSON value."""
    return F.when(F.schema_of_variant(column) == "STRING", F.variant_get(column, "$", "string"))


def _is_finite(column: Column) -> Column:
    return ~F.isnan(column) & (F.abs(column) < F.lit(float("inf")))


def _rejection_reason(raw: Column, key: Column) -> Column:
    """The first thing wrong with a record, or null when it is a valid contract message."""
    # In the contract's order: the first that holds is the reason.
    ordered: list[tuple[Column, str, bool]] = [  # (check, reason, reads the text again)
        (raw.isNull(), "empty value", False),
        (F.json_object_keys(raw).isNull(), "not a valid JSON object", True),
    ]
    for field in MESSAGE_FIELDS:
        parsed = F.col(field.name)
        present = F.get_json_object(raw, f"$.{field.name}").isNotNull()
        ordered.append((parsed.isNull() & present, f"{field.name} has the wrong type", True))
        if field.required:
            ordered.append((parsed.isNull(), f"missing field {field.name}", False))
    price, volume = F.col("price"), F.col("volume")
    ordered += [
        (~_is_finite(price) | (price <= 0), "price is not a finite positive number", False),
        (volume.isNotNull() & (~_is_finite(volume) | (volume < 0)), "volume is not a finite number >= 0", False),
        (~F.col("symbol").rlike(SYMBOL_PATTERN.pattern), "symbol is not a ticker", False),
        (
            ~F.col("event_time").between(EARLIEST_EVENT_MS, LATEST_EVENT_MS),
            "event_time is not epoch milliseconds between 2000 and 2100",
            False,
        ),
        (~F.col("source").isin(*SOURCES), "unknown source", False),
        # Keyed by symbol, a symbol's events keep their order on one partition (the contract).
        (key.isNull() | (key != F.col("symbol")), "key is not the symbol", False),
    ]
    # Most records are valid, and a valid one is known from the parsed fields alone: from_json puts a
    # record with a field of the wrong type in the corrupt-record column. The text is parsed again
    # (json_object_keys, get_json_object) only to name what is wrong with a reject.
    clean_parse = raw.isNotNull() & F.col(CORRUPT_COLUMN).isNull()
    looks_valid = reduce(
        lambda acc, check: acc & ~F.coalesce(check, F.lit(True)),
        [check for check, _, rereads in ordered if not rereads],
        clean_parse,
    )
    (first, first_reason, _), *rest = ordered
    chain = F.when(first, F.lit(first_reason))
    return F.when(looks_valid, F.lit(None)).otherwise(
        reduce(lambda acc, check: acc.when(check[0], F.lit(check[1])), rest, chain)
    )


def parse_records(records: DataFrame) -> DataFrame:
    """Kafka rows (topic, partition, offset, key, value) -> the message fields and a reason column."""
    raw = F.col("value").cast("string")
    message = F.from_json(
        raw,
        message_schema(),
        {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT_COLUMN},
    )
    # The fields come out of a generator (inline of a one-element array): a filter on them cannot
    # be pushed below it, where Spark would repeat from_json for every field the filter reads.
    return (
        records.select(
            "topic",
            "partition",
            "offset",
            F.col("key").cast("string").alias("raw_key"),
            raw.alias("raw_value"),
            F.inline(F.array(message)),
        )
        .withColumns({name: _json_string(F.col(name)) for name in VARIANT_FIELDS})
        .withColumn("reason", _rejection_reason(F.col("raw_value"), F.col("raw_key")))
        .select("topic", "partition", "offset", "raw_value", "reason", *[f.name for f in MESSAGE_FIELDS])
    )


def stored_raw_value(raw: Column) -> Column:
    """A rejected value as rejected_events keeps it: cut to RAW_VALUE_LIMIT, NUL replaced (text cannot hold it)."""
    return F.regexp_replace(F.substring(raw, 1, RAW_VALUE_LIMIT), "\\x00", "\ufffd")
