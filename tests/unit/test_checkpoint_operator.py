"""A checkpoint of the earlier de-duplication (Spark's dropDuplicatesWithinWatermark), which Spark refuses
to restart with the job's operator, is recognised from its state metadata and set aside (streaming/job.py)."""

import json

from streaming.job import set_aside, uses_scanning_dedupe


def write_operator_metadata(checkpoint, name, version="v1"):
    folder = checkpoint / "state" / "0" / "_metadata"
    folder.mkdir(parents=True)
    info = {"operatorInfo": {"operatorId": 0, "operatorName": name}, "stateStoreInfo": []}
    (folder / "metadata").write_text(f"{version}\n{json.dumps(info)}")


def test_the_earlier_operator_is_recognised_and_no_other(tmp_path):
    write_operator_metadata(tmp_path / "old", "dedupeWithinWatermark")
    write_operator_metadata(tmp_path / "other", "stateStoreSave")
    assert uses_scanning_dedupe(tmp_path / "old")
    assert not uses_scanning_dedupe(tmp_path / "other")
    assert not uses_scanning_dedupe(tmp_path / "new")  # no checkpoint yet
    (tmp_path / "v2" / "state" / "0" / "_metadata" / "v2").mkdir(parents=True)  # transformWithState's layout
    assert not uses_scanning_dedupe(tmp_path / "v2")


def test_a_checkpoint_is_set_aside_under_a_free_name(tmp_path):
    for _ in range(2):
        write_operator_metadata(tmp_path / "aggregates", "dedupeWithinWatermark")
        aside = set_aside(tmp_path / "aggregates")
        assert not (tmp_path / "aggregates").exists() and uses_scanning_dedupe(aside)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "aggregates.dedupeWithinWatermark",
        "aggregates.dedupeWithinWatermark.2",
    ]
