"""The job's streaming de-duplication (jvm/dedupe, through streaming/aggregation.py) in a real local Spark
session: micro-batches from files of Kafka-shaped rows, one file a batch, through the job's parsing."""

import json
import os

from pyspark.sql import DataFrame

from streaming.aggregation import DEDUPE_BUCKET_MS, deduplicate, keyed_records
from streaming.parsing import parse_records

S = 1000
BASE = 1_763_000_040_000  # a whole minute
KAFKA_SCHEMA = "topic string, partition int, offset long, key string, value string"


def event(id_, seconds):
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


# With a 10 s watermark. Spark judges lateness by the previous batch's watermark and evicts by this batch's.
BATCHES = [
    (
        [event("a", 100), event("a", 100), event("b", 101), "not json", {"id": "x"}],
        {"a", "b", "R:not json", 'R:{"id": "x"}'},
    ),
    ([event("a", 100), event("c", 130), "{bad"], {"c", "R:{bad"}),  # a remembered; watermark 91 -> 120
    # b, c remembered; evicts a, b, d (their buckets' timers, 105 and 120, <= 120)
    ([event("b", 101), event("d", 115), event("e", 135), event("c", 130)], {"d", "e"}),
    ([event("f", 200)], {"f"}),  # nothing expires: c's and e's timers (135, 140) > 125
    ([event("g", 201), event("c", 130), event("f", 200)], {"g"}),  # c, f remembered; evicts c, e
    ([event("f", 200), event("h", 230), event("b", 101), event("c", 130)], {"h"}),  # b, c late (< 190)
]
LATE = [0, 0, 0, 0, 0, 2]
IDS_HELD = [2, 3, 2, 3, 2, 3]  # after each batch: forgotten once the watermark passes their bucket's end


def write_batches(folder, batches):
    offset = 0
    for n, (messages, _) in enumerate(batches):
        lines = []
        for m in messages:
            value, key = (m, None) if isinstance(m, str) else (json.dumps(m), m.get("symbol"))
            lines.append(json.dumps({"topic": "t", "partition": 0, "offset": offset, "key": key, "value": value}))
            offset += 1
        path = folder / f"batch-{n:02d}.json"
        path.write_text("\n".join(lines) + "\n")
        os.utime(path, (1_700_000_000 + n, 1_700_000_000 + n))  # the file source reads the oldest first


def run_batches(spark, tmp_path, batches, dedupe=lambda records: deduplicate(records, "10 seconds")):
    """Each batch's kept ids (a reject as R:<its value>) and its state operator's progress."""
    source = tmp_path / "in"
    source.mkdir()
    write_batches(source, batches)
    kept = {}

    def collect(batch: DataFrame, batch_id: int) -> None:
        kept[batch_id] = {r.id or "R:" + r.raw_value for r in batch.select("id", "raw_value").collect()}

    stream = spark.readStream.schema(KAFKA_SCHEMA).option("maxFilesPerTrigger", 1).json(str(source))
    query = (
        dedupe(keyed_records(parse_records(stream)))
        .writeStream.foreachBatch(collect)
        .option("checkpointLocation", str(tmp_path / "checkpoint"))
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination()
    progress = [json.loads(p.json) for p in query.recentProgress]
    return [kept.get(n, set()) for n in range(len(batches))], [p["stateOperators"][0] for p in progress]


def test_first_copies_pass_rejects_always_late_events_dropped_and_counted(spark, tmp_path):
    assert DEDUPE_BUCKET_MS == 5 * S  # the eviction times above
    kept, operators = run_batches(spark, tmp_path, BATCHES)
    assert kept == [expected for _, expected in BATCHES]
    assert [op["numRowsDroppedByWatermark"] for op in operators] == LATE
    assert [op["numRowsTotal"] for op in operators] == IDS_HELD


def test_a_batch_reads_only_the_timers_that_expire(spark, tmp_path):
    """2,000 ids, then batches that expire none, then one that expires them all: Spark's own operator
    read its whole state through an iterator at every batch; this one reads nothing until ids expire."""
    ids = [event(f"s{i}", 1000 + i * 4 // 2000) for i in range(2000)]  # buckets [1000, 1005) s
    batches = [
        (ids, None),
        ([event("later", 1005)], None),
        ([event("later-2", 1010)], None),
        ([event("much-later", 1100)], None),
        ([event("last", 1101)], None),
    ]
    _, operators = run_batches(spark, tmp_path, batches)
    read = [op["customMetrics"].get("rocksdbTotalBytesReadThroughIterator", 0) for op in operators]
    expired = [op["customMetrics"].get("numExpiredTimers", 0) for op in operators]
    removed = [op["numRowsRemoved"] for op in operators]
    assert read[1] == read[2] == 0 and read[4] > 0  # nothing expires before the watermark passes 1005
    assert expired[:4] == [0, 0, 0, 0] and 1 <= expired[4] <= 16 * 3  # a timer a group, not an id
    assert removed == [0, 0, 0, 0, 2002]
