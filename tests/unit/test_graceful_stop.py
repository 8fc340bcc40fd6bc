"""When a streaming query may be told to end without cutting a batch short (streaming/graceful_stop.py)."""

from streaming.graceful_stop import BatchesBegun, safe_to_end


def test_a_batch_in_flight_may_end_once_its_sink_has_begun_it():
    assert safe_to_end(in_flight=7, latest_begun=7, thread_sleeping=False)
    assert safe_to_end(in_flight=7, latest_begun=7, thread_sleeping=True)


def test_a_batch_in_flight_not_yet_at_its_sink_is_waited_for():
    # Still being planned: Spark would interrupt it after planning if the query were ended now.
    assert not safe_to_end(in_flight=7, latest_begun=6, thread_sleeping=False)
    assert not safe_to_end(in_flight=0, latest_begun=None, thread_sleeping=True)


def test_with_every_batch_committed_the_query_ends_only_while_its_thread_sleeps():
    assert safe_to_end(in_flight=None, latest_begun=6, thread_sleeping=True)
    # Awake, it may be constructing the next batch.
    assert not safe_to_end(in_flight=None, latest_begun=6, thread_sleeping=False)
    assert not safe_to_end(in_flight=None, latest_begun=None, thread_sleeping=False)


def test_batches_begun_keeps_the_newest_id():
    begun = BatchesBegun()
    assert begun.latest is None
    for batch_id in range(5):
        begun.began(batch_id)
    assert begun.latest == 4
