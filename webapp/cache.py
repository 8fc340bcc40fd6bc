"""Answers shared between viewers: each JSON answer is computed once per data version and kept,
serialized, with a strong ETag of its body.

The version is data_version.version (sql/011), bumped in every transaction that writes
stock_aggregates or rejected_events. An answer lags a commit by at most `stale_seconds` (plus the
time to compute it): a process reads the version every CHECK_SECONDS at most, and once it changed,
serves an answer of the version before only for the rest of `stale_seconds`, while the new one is
computed. Between commits every viewer gets the kept bytes without a query, and a viewer whose copy
is current gets 304 Not Modified.

Answers are also refreshed ahead. While answers that can be computed again outside a request were
asked for within the last `watch_seconds` (pages poll), a thread of the process reads the version
every CHECK_SECONDS and, when it changed, computes those answers again: a viewer's next poll finds
its answer ready instead of waiting for the queries."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


STALE_SECONDS = 0.5  # the most an answer lags a commit (beyond computing it)
CHECK_SECONDS = 0.1  # how often a process asks for the data version (at most)
REFRESH_FLOOR_SECONDS = 0.05  # the refresher's fastest pace, even when each request reads the version
COMPUTE_WAIT_SECONDS = 10  # past this, a waiting request computes the answer itself


@dataclass(frozen=True)
class Answer:
    """A serialized JSON answer, its ETag (unquoted: the response quotes it) and how long it took to
    compute."""

    body: bytes
    etag: str
    compute_seconds: float


def etag_of(body: bytes) -> str:
    """A strong ETag: a hash of the body, so an unchanged answer keeps its tag across versions."""
    return hashlib.blake2b(body, digest_size=12).hexdigest()


class _Computation:
    """An answer being computed, which other requests for it wait for."""

    def __init__(self):
        self.done = threading.Event()
        self.answer: Answer | None = None
        self.waiting = 0  # the requests waiting for it now


class AnswerCache:
    """Answers by request key for the newest data version; older versions' answers are dropped.
    `read_version` reads the version, from any thread."""

    def __init__(
        self,
        read_version: Callable[[], int],
        stale_seconds: float = STALE_SECONDS,
        max_answers: int = 2048,
        max_age_seconds: float = 60,
        watch_seconds: float = 10,
        max_watched: int = 64,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.read_version = read_version
        self.stale_seconds = stale_seconds
        self.check_seconds = min(CHECK_SECONDS, stale_seconds)
        self.max_answers = max_answers
        # Some answers also depend on the clock (rejects of the last 24 h): without writes, they are
        # computed again after this long.
        self.max_age_seconds = max_age_seconds
        self.watch_seconds = watch_seconds
        # The refresher computes at most this many answers per version (the most recently asked):
        # requests for many distinct answers cannot multiply its work.
        self.max_watched = max_watched
        self._clock = clock
        self._lock = threading.Lock()
        self._version: int | None = None
        self._reads_begun = 0  # version reads begun, numbered in order
        self._stored_after = 0  # reads numbered from this one began after the stored version was read
        self._checked_at = float("-inf")
        self._cleared_at = float("-inf")
        self._generation = 0  # how many times the answers were dropped
        self._answers: OrderedDict[str, Answer] = OrderedDict()
        self._previous: OrderedDict[str, Answer] = OrderedDict()  # the answers of the version before
        self._previous_until = float("-inf")
        self._computing: dict[tuple[str, int], _Computation] = {}
        # Answers to refresh ahead: key -> (compute from any thread, when last asked for).
        self._watched: OrderedDict[str, tuple[Callable[[], bytes], float]] = OrderedDict()
        self._watched_again = threading.Condition(self._lock)
        self._refresher: threading.Thread | None = None

    def current_version(self) -> int:
        """The data version, read again when the last read is check_seconds old; never older than a
        version seen before."""
        return self._current()[0]

    def _current(self) -> tuple[int, int]:
        """The data version (as current_version) and the generation of the answers kept for it, taken
        together: the answers may be dropped for a newer version right after."""
        with self._lock:
            if self._clock() - self._checked_at < self.check_seconds and self._version is not None:
                return self._version, self._generation
            read_number = self._reads_begun
            self._reads_begun += 1
        version = self.read_version()  # outside the lock: a slow database must not hold every thread
        with self._lock:
            if self._version is not None and version < self._version and read_number < self._stored_after:
                # The version only grows: a read that began before the stored version was read, and
                # saw an older one, saw an older snapshot. It tells nothing about the present, so the
                # version, its answers and when it was last seen (_checked_at) stay as they are. (A
                # lower version read after that is a database recreated or restored: it is taken.)
                return self._version, self._generation
            if version != self._version:
                self._stored_after = self._reads_begun
            last_seen_before, self._checked_at = self._checked_at, self._clock()
            changed = version != self._version
            if changed or self._checked_at - self._cleared_at >= self.max_age_seconds:
                self._version = version
                # The version before was last seen at last_seen_before, so the commit came later:
                # its answers may stand in until stale_seconds after that. Aged answers never do.
                self._previous = self._answers if changed else OrderedDict()
                self._previous_until = last_seen_before + self.stale_seconds
                self._answers = OrderedDict()
                self._cleared_at = self._checked_at
                self._generation += 1
            return version, self._generation

    def answer(
        self,
        key: str,
        compute: Callable[[], bytes],
        recompute: Callable[[], bytes] | None = None,
        previous_allowed: bool = True,
    ) -> Answer:
        """The kept answer for `key` at the current version, or `compute()`'s, kept. Requests for
        the same key and version while it is being computed wait for that one computation.
        `recompute`, the same computation callable from any thread, has the answer refreshed ahead.
        `previous_allowed`: the version before's answer may stand in (not for a part of a new answer)."""
        version = self.current_version()
        answer = self._kept_or_computed(key, version, compute, previous_allowed)
        if recompute is not None:  # once it computed: a request that fails is not refreshed
            self._watch(key, recompute)
        return answer

    def kept(self, key: str) -> Answer | None:
        """The answer for `key` kept at the current version (or the version before's while it may
        stand in), or None; never computes. A watched answer asked for this way stays watched."""
        self.current_version()
        with self._lock:
            found = self._kept_locked(key, previous_allowed=True)
            watched = self._watched.get(key)
            if found is not None and watched is not None:
                self._watched[key] = (watched[0], self._clock())
                self._watched.move_to_end(key)
            return found

    def waiting(self, key: str) -> int:
        """How many requests wait for an answer for `key` being computed (0 when none is)."""
        with self._lock:
            return sum(computing.waiting for (k, _), computing in self._computing.items() if k == key)

    def _kept_locked(self, key: str, previous_allowed: bool) -> Answer | None:
        found = self._answers.get(key)
        if found is not None:
            self._answers.move_to_end(key)
            return found
        if previous_allowed and self._clock() < self._previous_until:
            return self._previous.get(key)
        return None

    def _kept_or_computed(
        self, key: str, version: int, compute: Callable[[], bytes], previous_allowed: bool = False
    ) -> Answer:
        with self._lock:
            found = self._kept_locked(key, previous_allowed)
            if found is not None:
                return found
            computing = self._computing.get((key, version))
            first = computing is None
            if computing is None:
                computing = self._computing[(key, version)] = _Computation()
            else:
                computing.waiting += 1
        if not first:
            computing.done.wait(COMPUTE_WAIT_SECONDS)
            with self._lock:
                computing.waiting -= 1
            if computing.answer is not None:
                return computing.answer
            # the first request failed or is stuck: this one computes (and fails) on its own
        try:
            started = time.perf_counter()
            body = compute()
            answer = Answer(body, etag_of(body), time.perf_counter() - started)
            computing.answer = answer
        finally:
            with self._lock:
                if first:
                    del self._computing[(key, version)]
                if computing.answer is not None and self._version == version:  # not after a newer version
                    self._answers[key] = computing.answer
                    while len(self._answers) > self.max_answers:
                        self._answers.popitem(last=False)
            computing.done.set()
        return answer

    def _watch(self, key: str, recompute: Callable[[], bytes]) -> None:
        with self._lock:
            self._watched[key] = (recompute, self._clock())
            self._watched.move_to_end(key)
            while len(self._watched) > self.max_watched:
                self._watched.popitem(last=False)
            if self._refresher is None or not self._refresher.is_alive():  # started in the process that serves
                self._refresher = threading.Thread(target=self._refresh_forever, name="answer-refresher", daemon=True)
                self._refresher.start()
            self._watched_again.notify()

    def _still_watched(self) -> list[tuple[str, Callable[[], bytes]]]:
        """The watched answers, most recently asked first, once those not asked lately are forgotten
        (waits while there are none)."""
        with self._lock:
            while True:
                asked_since = self._clock() - self.watch_seconds
                for key in [k for k, (_, asked_at) in self._watched.items() if asked_at < asked_since]:
                    del self._watched[key]
                if self._watched:
                    return [(key, recompute) for key, (recompute, _) in reversed(self._watched.items())]
                self._watched_again.wait()

    def _refresh_forever(self) -> None:
        """Every check_seconds while answers are watched: read the version; when the answers were
        dropped since the last refresh, compute the watched ones."""
        refreshed = None
        while True:
            watched = self._still_watched()
            try:
                # with its generation: read apart, a newer version's generation could be taken for
                # this version's, and the newer version's answers never refreshed
                version, generation = self._current()
            except Exception:
                log.debug("reading the data version failed", exc_info=True)
                time.sleep(max(self.check_seconds, 1))
                continue
            if generation != refreshed:
                refreshed = generation
                for key, recompute in watched:
                    if self._version != version:
                        break  # a newer version came: refreshed on the next turn
                    try:
                        self._kept_or_computed(key, version, recompute)
                    except Exception:
                        log.debug("refreshing %s failed", key, exc_info=True)
            time.sleep(max(self.check_seconds, REFRESH_FLOOR_SECONDS))
