"""A tiny local run of the de-duplication operators through the job's own parsing and keying:
Spark's dropDuplicatesWithinWatermark and DedupeWithinWatermark's shapes (bucket, bucket with keep 0, id,
and the job's own call), on the same six
micro-batches (one JSON file each, Kafka-shaped rows), with what each batch kept and reported.

    PYTHONPATH=. .venv/bin/python jvm/dedupe/trial.py jvm/dedupe/target/stock-dedupe-1.jar \\
        [--restart-check] [--scale N] [--keep DIR]

--scale N: four batches instead (N ids; one event that expires nothing; one that expires all), to see
what a batch reads from the state when nothing expires, against what it removes when all does.

A design trial, not a test of the suite: tens of rows, one local session, about a minute.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
from contextlib import nullcontext
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession

from streaming.aggregation import DEDUPE_BUCKET_MS, deduplicate, keyed_records
from streaming.parsing import parse_records
from streaming.session import ROCKSDB_PROVIDER, use_utc

log = logging.getLogger("trial")
S = 1000
BASE = 1_763_000_040_000  # a whole minute, in epoch ms
DELAY_MS = 10 * S
BUCKET_MS = 5 * S
SHOWN_METRICS = {
    "numDroppedDuplicateRows",
    "numRegisteredTimers",
    "numExpiredTimers",
    "numDeletedTimers",
    "timerProcessingTimeMs",
    "rocksdbGetCount",
    "rocksdbPutCount",
    "rocksdbTotalBytesReadThroughIterator",
    "rocksdbNumInternalColFamiliesKeys",
}
KAFKA_SCHEMA = "topic string, partition int, offset long, key string, value string"


def event(id_: str, seconds: int) -> dict:
    """A valid contract message at BASE + seconds."""
    t = BASE + seconds * S
    return {
        "id": id_,
        "symbol": "AAPL",
        "price": 100.0,
        "volume": 1.0,
        "event_time": t,
        "source": "synthetic",
        "ingested_at": t,
    }


# (what each batch brings, what a dedupe within a 10 s watermark must keep of it)
BATCHES = [
    # wm 0 -> after: max 101 - 10 = 91
    ([event("a", 100), event("a", 100), event("b", 101), "not json", {"id": "x"}], {"a", "b", "R:not json", "R:x"}),
    # late before 91; a is remembered; wm after: 130 - 10 = 120
    ([event("a", 100), event("c", 130), "{bad"], {"c", "R:{bad"}),
    # Spark judges lateness by the previous batch's watermark (91): b (101) is no later than it, and
    # still remembered (evicted at the end of this batch, by this batch's watermark 120); d new, e new,
    # c remembered; wm after 125
    ([event("b", 101), event("d", 115), event("e", 135), event("c", 130)], {"d", "e"}),
    # eviction watermark 125: bucket [100, 105) s expires (timer 115); wm after 190
    ([event("f", 200)], {"f"}),
    # late before 125: none; c (130) still remembered (its bucket's timer fires after this batch's rows,
    # by the eviction watermark 190, as Spark's operator evicts after them)
    ([event("g", 201), event("c", 130), event("f", 200)], {"g"}),
    # f remembered until the watermark reaches 210 (id) or 215 (bucket end + delay); b (101) and
    # c (130) before the previous batch's watermark 190: dropped as late, counted
    ([event("f", 200), event("h", 230), event("b", 101), event("c", 130)], {"h"}),
]


def write_batches(folder: Path, batches: list) -> None:
    """One file per batch, modification times in order (the file source reads the oldest first)."""
    offset = 0
    for n, (messages, _) in enumerate(batches):
        lines = []
        for m in messages:
            value = m if isinstance(m, str) else json.dumps(m)
            key = m.get("symbol") if isinstance(m, dict) else None
            lines.append(json.dumps({"topic": "t", "partition": 0, "offset": offset, "key": key, "value": value}))
            offset += 1
        path = folder / f"batch-{n:02d}.json"
        path.write_text("\n".join(lines) + "\n")
        os.utime(path, (1_700_000_000 + n, 1_700_000_000 + n))


def session(jar: str) -> SparkSession:
    """The job's state-store settings, one core, the operator's jar."""
    use_utc()
    return (
        SparkSession.builder.master("local[1]")
        .appName("dedupe-trial")
        .config("spark.jars", jar)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.ansi.enabled", "true")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.streaming.stateStore.providerClass", ROCKSDB_PROVIDER)
        .config("spark.sql.streaming.stateStore.rocksdb.changelogCheckpointing.enabled", "true")
        .config("spark.sql.streaming.noDataMicroBatches.enabled", "false")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "512m")
        .getOrCreate()
    )


def dedupe(records: DataFrame, shape: str) -> DataFrame:
    """The records de-duplicated by the given operator."""
    if shape == "spark":
        return records.withWatermark("event_ts", f"{DELAY_MS} milliseconds").dropDuplicatesWithinWatermark(
            ["id", "partition", "kafka_offset"]
        )
    if shape == "job":  # the job's own call, streaming/aggregation.py
        return deduplicate(records, f"{DELAY_MS // S} seconds")
    spark = records.sparkSession
    bucket_ms = 0 if shape == "id" else BUCKET_MS
    keep_ms = 0 if shape == "bucket-keep-0" else DELAY_MS
    jdf = spark._jvm.local.stockpipeline.dedupe.DedupeWithinWatermark.apply(
        records._jdf, "id", "event_ts", DELAY_MS, keep_ms, bucket_ms, 4
    )
    return DataFrame(jdf, spark)


def run(spark: SparkSession, source: Path, checkpoint: Path, shape: str) -> list[dict]:
    """Run every batch through one shape; each batch's kept keys and its state operator's progress."""
    kept: dict[int, set] = {}

    def collect(batch: DataFrame, batch_id: int) -> None:
        rows = batch.select("id", "raw_value").collect()
        kept[batch_id] = {r.id or "R:" + _reject_name(r.raw_value) for r in rows}

    records = keyed_records(
        parse_records(spark.readStream.schema(KAFKA_SCHEMA).option("maxFilesPerTrigger", 1).json(str(source)))
    )
    query = (
        dedupe(records, shape)
        .writeStream.foreachBatch(collect)
        .option("checkpointLocation", str(checkpoint))
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination()
    reports = []
    for progress in query.recentProgress:
        p = json.loads(progress.json)
        op = (p.get("stateOperators") or [{}])[0]
        reports.append(
            {
                "batch": p["batchId"],
                "kept": sorted(kept.get(p["batchId"], set())),
                "watermark": (p.get("eventTime") or {}).get("watermark"),
                "operator": op.get("operatorName"),
                "numRowsTotal": op.get("numRowsTotal"),
                "numRowsUpdated": op.get("numRowsUpdated"),
                "numRowsRemoved": op.get("numRowsRemoved"),
                "numRowsDroppedByWatermark": op.get("numRowsDroppedByWatermark"),
                "allRemovalsTimeMs": op.get("allRemovalsTimeMs"),
                "custom": {k: v for k, v in (op.get("customMetrics") or {}).items() if v and k in SHOWN_METRICS},
            }
        )
    return reports


def _reject_name(raw: str) -> str:
    for name in ("not json", "{bad", "x"):
        if raw.startswith(name) or (name == "x" and '"x"' in raw):
            return name
    return raw


def scale_batches(n: int) -> list:
    """n ids over 4 s; one event 1 s later (nothing expires); one 100 s later (all expire)."""
    ids = [event(f"s{i}", 1000 + i * 4 // n) for i in range(n)]
    return [
        (ids, {e["id"] for e in ids}),
        ([event("later", 1005)], {"later"}),
        ([event("much-later", 1100)], {"much-later"}),
        ([event("last", 1101)], {"last"}),  # judged and evicted by the watermark 1090
    ]


def main(jar: str, restart_check: bool, scale: int, keep: str | None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    spark = session(jar)
    spark.sparkContext.setLogLevel("ERROR")
    failures = 0
    assert DEDUPE_BUCKET_MS == BUCKET_MS  # the expectations of the "job" shape
    with tempfile.TemporaryDirectory() if keep is None else nullcontext(keep) as tmp:
        source = Path(tmp) / "in"
        source.mkdir()
        batches = scale_batches(scale) if scale else BATCHES
        write_batches(source, batches)
        for shape in (
            ("spark", "bucket", "bucket-keep-0", "id") if scale else ("spark", "bucket", "bucket-keep-0", "id", "job")
        ):
            reports = run(spark, source, Path(tmp) / f"cp-{shape}", shape)
            log.info("== %s", shape)
            for r, (_, expected) in zip(reports, batches, strict=False):
                ok = set(r["kept"]) == expected if not scale else len(r["kept"]) == len(expected)
                failures += not ok
                r["kept"] = r["kept"] if not scale else len(r["kept"])
                log.info("%s %s", "ok  " if ok else "FAIL", json.dumps(r))
            failures += len(reports) != len(batches)
        if restart_check:
            failures += not check_restart(spark, source, Path(tmp) / "cp-spark")
    spark.stop()
    log.info("%s", "all batches as expected" if not failures else f"{failures} failures")
    return 1 if failures else 0


def check_restart(spark: SparkSession, source: Path, old_checkpoint: Path) -> bool:
    """A checkpoint of Spark's operator, restarted with the new one (one more file to read)."""
    extra = source / "batch-99.json"
    extra.write_text(
        json.dumps({"topic": "t", "partition": 0, "offset": 99, "key": "AAPL", "value": json.dumps(event("z", 300))})
        + "\n"
    )
    try:
        run(spark, source, old_checkpoint, "bucket")
    except Exception as exc:  # the error Spark gives is the finding
        log.info("restart on the old operator's checkpoint: %s", str(exc).splitlines()[0][:400])
        return True
    log.info("restart on the old operator's checkpoint: no error")
    return False


if __name__ == "__main__":
    args = sys.argv[1:]
    scale = int(args[args.index("--scale") + 1]) if "--scale" in args else 0
    keep = args[args.index("--keep") + 1] if "--keep" in args else None  # an empty folder to keep the checkpoints in
    sys.exit(main(args[0], "--restart-check" in args, scale, keep))
