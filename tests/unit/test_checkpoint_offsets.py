"""A batch's size in records, which picks its plan, and its watermark, which closes windows, from the
checkpoint's offset log (streaming/job.py)."""

import json

from streaming.job import logged_batch, offsets_between


def write_offsets(checkpoint, batch_id, offsets, watermark_ms=0):
    log = checkpoint / "offsets"
    log.mkdir(parents=True, exist_ok=True)
    metadata = {"batchWatermarkMs": watermark_ms, "batchTimestampMs": 1_795_168_900_000, "conf": {}}
    (log / str(batch_id)).write_text("v1\n" + json.dumps(metadata) + "\n" + json.dumps(offsets))


def test_records_between_two_offset_entries_sum_over_partitions():
    start = {"trades": {"0": 100, "1": 40, "2": 0}}
    end = {"trades": {"0": 130, "1": 41, "2": 0}}
    assert offsets_between(start, end) == 31


def test_a_partition_without_a_start_offset_makes_the_size_unknown():
    assert offsets_between({"trades": {"0": 5}}, {"trades": {"0": 9, "1": 3}}) is None


def test_batch_records_reads_the_batch_and_the_one_before(tmp_path):
    write_offsets(tmp_path, 6, {"trades": {"0": 10, "1": 20}})
    write_offsets(tmp_path, 7, {"trades": {"0": 15, "1": 27}})
    assert logged_batch(tmp_path, 7).records == 12


def test_the_first_batch_and_a_missing_entry_have_no_known_size(tmp_path):
    write_offsets(tmp_path, 0, {"trades": {"0": 10}})
    assert logged_batch(tmp_path, 0).records is None  # it starts from the earliest offsets, not logged
    assert logged_batch(tmp_path, 3).records is None


def test_a_batch_watermark_is_read_from_its_own_entry(tmp_path):
    write_offsets(tmp_path, 4, {"trades": {"0": 10}}, watermark_ms=1_795_168_680_000)
    write_offsets(tmp_path, 5, {"trades": {"0": 11}}, watermark_ms=1_795_168_860_000)
    assert logged_batch(tmp_path, 5).watermark_ms == 1_795_168_860_000
    assert logged_batch(tmp_path, 6).watermark_ms is None  # not logged: nothing is closed
    (tmp_path / "offsets" / "7").write_text("v1\n{}\n{}")
    assert logged_batch(tmp_path, 7).watermark_ms is None
