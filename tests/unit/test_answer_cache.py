"""The webapp's shared answers: one computation per data version and request, never an answer more
than stale_seconds behind a commit, never one kept under a version older than its data, and the
answers pages poll refreshed ahead."""

import contextlib
import threading

from devstack.process import wait_until
from webapp.cache import AnswerCache, etag_of


class Clock:
    """A clock that moves only when a test moves it. A test changes the version before it moves the
    clock: a refresher reading the version between the two would keep the old one until the clock
    moved again."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class Database:
    """Counts how often the version is read and each answer computed."""

    def __init__(self):
        self.version = 1
        self.version_reads = 0
        self.computed = 0
        self.refreshed = []

    def read_version(self):
        self.version_reads += 1
        return self.version

    def compute(self):
        self.computed += 1
        return f"answer at version {self.version}".encode()

    def recompute(self, key):
        """compute, for the refresher, noting `key` in `refreshed`."""

        def compute():
            self.refreshed.append(key)
            return self.compute()

        return compute


def test_viewers_between_two_commits_share_one_computation_and_one_version_read():
    clock, database = Clock(), Database()
    cache = AnswerCache(database.read_version, stale_seconds=0.25, clock=clock)
    answers = [cache.answer("/api/latest", database.compute) for _ in range(100)]
    assert database.computed == 1 and database.version_reads == 1
    assert {a.body for a in answers} == {b"answer at version 1"}
    assert answers[0].etag == etag_of(b"answer at version 1") != etag_of(b"answer at version 2")


def test_an_answer_is_never_more_than_stale_seconds_behind_a_commit():
    clock, database = Clock(), Database()
    cache = AnswerCache(database.read_version, stale_seconds=0.25, clock=clock)
    cache.answer("/api/latest", database.compute)  # version 1 seen at 0; the commit comes right after
    database.version = 2
    clock.now = 0.05
    assert cache.answer("/api/latest", database.compute).body == b"answer at version 1"  # not read again yet
    clock.now = 0.24  # version 2 is seen; version 1's answer may stand in until 0.25
    assert cache.answer("/api/latest", database.compute).body == b"answer at version 1"
    assert database.version_reads == 2 and database.computed == 1
    clock.now = 0.25
    assert cache.answer("/api/latest", database.compute).body == b"answer at version 2"
    assert database.computed == 2


def test_a_part_of_a_new_answer_is_never_the_version_before():
    clock, database = Clock(), Database()
    cache = AnswerCache(database.read_version, stale_seconds=0.25, clock=clock)
    cache.answer("part latest", database.compute, previous_allowed=False)
    database.version = 2
    clock.now = 0.1
    assert cache.answer("part latest", database.compute, previous_allowed=False).body == b"answer at version 2"


def test_a_commit_seen_late_is_served_at_once():
    clock, database = Clock(), Database()
    cache = AnswerCache(database.read_version, stale_seconds=0.25, clock=clock)
    cache.answer("/api/latest", database.compute)
    database.version = 2
    clock.now = 3  # no request for a while: version 1 was last seen 3 s ago
    assert cache.answer("/api/latest", database.compute).body == b"answer at version 2"


def test_each_request_key_has_its_own_answer_and_a_zero_check_reads_the_version_every_time():
    clock, database = Clock(), Database()
    cache = AnswerCache(database.read_version, stale_seconds=0, clock=clock)
    cache.answer("/api/latest?window=1m", database.compute)
    cache.answer("/api/latest?window=5m", database.compute)
    cache.answer("/api/latest?window=1m", database.compute)
    assert database.computed == 2 and database.version_reads == 3


def test_an_answer_computed_while_the_version_moved_on_is_not_kept():
    clock, database = Clock(), Database()
    cache = AnswerCache(database.read_version, stale_seconds=0, clock=clock)

    def compute_during_a_commit():
        body = database.compute()
        database.version = 2
        cache.current_version()  # another request saw the commit meanwhile
        return body

    cache.answer("/api/latest", compute_during_a_commit)
    assert cache.answer("/api/latest", database.compute).body == b"answer at version 2"


def test_the_cache_keeps_at_most_max_answers_dropping_the_least_recently_used():
    clock, database = Clock(), Database()
    cache = AnswerCache(database.read_version, stale_seconds=10, max_answers=2, clock=clock)
    for key in ("a", "b", "a", "c"):  # "b" is the least recently used when "c" arrives
        cache.answer(key, database.compute)
    computed = database.computed
    cache.answer("a", database.compute)
    cache.answer("c", database.compute)
    assert database.computed == computed
    cache.answer("b", database.compute)
    assert database.computed == computed + 1


def test_without_writes_an_answer_is_computed_again_after_max_age_seconds():
    clock, database = Clock(), Database()
    cache = AnswerCache(database.read_version, stale_seconds=0.25, max_age_seconds=60, clock=clock)
    cache.answer("/api/quality", database.compute)
    clock.now = 59.9
    cache.answer("/api/quality", database.compute)
    assert database.computed == 1
    clock.now = 60.15  # the next read of the version ends the age
    cache.answer("/api/quality", database.compute)
    assert database.computed == 2  # the same version, but its rejects of the last 24 h may have aged


def test_requests_arriving_while_an_answer_is_computed_wait_for_that_one_computation():
    database = Database()
    cache = AnswerCache(database.read_version, stale_seconds=10)
    started, release = threading.Event(), threading.Event()
    computed_by = []

    def slow_compute():
        computed_by.append("first")
        started.set()
        assert release.wait(5)
        return database.compute()

    def compute_on_its_own():
        computed_by.append("another")
        return database.compute()

    answers = []
    first = threading.Thread(target=lambda: answers.append(cache.answer("/api/snapshot", slow_compute)))
    first.start()
    assert started.wait(5)
    others = [
        threading.Thread(target=lambda: answers.append(cache.answer("/api/snapshot", compute_on_its_own)))
        for _ in range(7)
    ]
    for thread in others:
        thread.start()
    try:  # released only once every other request waits for the first one's computation
        wait_until(lambda: cache.waiting("/api/snapshot") == 7, 5, "7 requests waiting", interval=0.01)
    finally:
        release.set()
        for thread in [first, *others]:
            thread.join(5)
    assert computed_by == ["first"] and database.computed == 1
    assert len(answers) == 8 and {a.body for a in answers} == {b"answer at version 1"}


def test_a_slow_read_of_an_older_version_never_takes_the_cache_back():
    clock, database = Clock(), Database()
    slow_read_seen, release = threading.Event(), threading.Event()

    def read_version():
        """The thread named "slow reader" returns the version its read saw only once released."""
        seen = database.read_version()
        if threading.current_thread().name == "slow reader":
            slow_read_seen.set()
            assert release.wait(5)
        return seen

    cache = AnswerCache(read_version, stale_seconds=0.25, clock=clock)  # checks every 0.1
    cache.answer("/api/latest", database.compute)  # version 1 seen at 0
    clock.now = 1
    slow_returned = []
    slow = threading.Thread(target=lambda: slow_returned.append(cache.current_version()), name="slow reader")
    slow.start()
    assert slow_read_seen.wait(5)  # its read saw version 1 and is still under way
    database.version = 2
    assert cache.answer("/api/latest", database.compute).body == b"answer at version 2"  # read at 1, kept
    clock.now = 1.05
    release.set()  # the slow read returns version 1, after version 2 was stored
    slow.join(5)
    assert slow_returned == [2]

    def not_again():
        raise AssertionError("the version-2 answer was dropped")

    reads = database.version_reads
    assert cache.answer("/api/latest", not_again, previous_allowed=False).body == b"answer at version 2"
    assert database.version_reads == reads
    clock.now = 1.12  # check_seconds after version 2 was read: the slow read did not count as a look
    assert cache.current_version() == 2 and database.version_reads == reads + 1


def test_a_lower_version_read_after_the_stored_one_is_taken_a_database_recreated():
    clock, database = Clock(), Database()
    cache = AnswerCache(database.read_version, stale_seconds=0.25, clock=clock)
    database.version = 7
    assert cache.answer("/api/latest", database.compute).body == b"answer at version 7"
    database.version = 1  # the database was recreated: its counter starts again
    clock.now = 1
    assert cache.current_version() == 1
    assert cache.answer("/api/latest", database.compute, previous_allowed=False).body == b"answer at version 1"


def test_when_the_computation_fails_the_waiting_requests_compute_on_their_own():
    database = Database()
    cache = AnswerCache(database.read_version, stale_seconds=10)

    def failing():
        raise RuntimeError("the database is down")

    with contextlib.suppress(RuntimeError):
        cache.answer("/api/latest", failing)
    assert cache.answer("/api/latest", database.compute).body == b"answer at version 1"


def test_a_watched_answer_is_computed_again_when_the_version_changes_before_anyone_asks():
    database = Database()
    cache = AnswerCache(database.read_version, stale_seconds=0.01, watch_seconds=60)
    cache.answer("/api/snapshot", database.compute, recompute=database.compute)
    database.version = 2
    wait_until(lambda: database.computed == 2, 5, "the refresh at version 2")

    def not_again():
        raise AssertionError("the viewer's poll computed the answer again")

    assert cache.answer("/api/snapshot", not_again).body == b"answer at version 2"


def test_only_answers_asked_for_within_watch_seconds_are_refreshed():
    clock, database = Clock(), Database()
    cache = AnswerCache(database.read_version, stale_seconds=0.01, watch_seconds=10, clock=clock)
    cache.answer("left", database.compute, database.recompute("left"))  # asked at 0, then the page was closed
    clock.now = 8
    cache.answer("open", database.compute, database.recompute("open"))  # asked at 8
    database.version = 2
    clock.now = 12
    wait_until(lambda: database.refreshed == ["open"], 5, "the refresh at version 2")
    database.version = 3  # its refresh begins once the one at version 2 is over
    clock.now = 12.5
    wait_until(lambda: database.refreshed.count("open") == 2, 5, "the refresh at version 3")
    assert database.refreshed == ["open", "open"]


def test_the_refresher_computes_the_most_recently_asked_answers_only_and_never_failed_ones():
    clock, database = Clock(), Database()

    def failing():
        raise ValueError("a bad parameter")

    cache = AnswerCache(database.read_version, stale_seconds=0.01, watch_seconds=10, max_watched=2, clock=clock)
    for key in ("a", "b", "c"):
        cache.answer(key, database.compute, database.recompute(key))
    with contextlib.suppress(ValueError):
        cache.answer("bad", failing, database.recompute("bad"))
    database.version = 2
    clock.now = 1
    wait_until(lambda: sorted(database.refreshed) == ["b", "c"], 5, "the refresh at version 2")
    database.version = 3
    clock.now = 2
    wait_until(lambda: len(database.refreshed) == 4, 5, "the refresh at version 3")
    assert sorted(database.refreshed) == ["b", "b", "c", "c"]


def test_a_kept_answer_is_looked_up_without_computing_as_answer_would_find_it():
    clock, database = Clock(), Database()
    cache = AnswerCache(database.read_version, stale_seconds=0.25, clock=clock)
    assert cache.kept("/api/latest") is None and database.computed == 0
    cache.answer("/api/latest", database.compute)
    assert cache.kept("/api/latest").body == b"answer at version 1"
    database.version = 2
    clock.now = 0.2  # version 2 is seen; version 1's answer stands in for the rest of stale_seconds
    assert cache.kept("/api/latest").body == b"answer at version 1"
    clock.now = 0.3
    assert cache.kept("/api/latest") is None and database.computed == 1


def test_a_watched_answer_served_as_kept_stays_watched():
    clock, database = Clock(), Database()
    cache = AnswerCache(database.read_version, stale_seconds=0.01, watch_seconds=10, clock=clock)
    cache.answer("open", database.compute, database.recompute("open"))  # computed at 0
    clock.now = 8
    assert cache.kept("open").body == b"answer at version 1"  # asked at 8, served without the view
    database.version = 2  # 4 s after it was last asked: refreshed
    clock.now = 12
    wait_until(lambda: database.refreshed == ["open"], 5, "the refresh at version 2")
    assert cache.kept("open").body == b"answer at version 2"
