"""Answers shared between viewers: each JSON answer is computed once per data version and kept,
serialized, with a strong ETag of its body.

The version is data_version.version (sql/011), bumped in every transaction that writes
stock_aggregates or rejected_events. A process reads it at most once every `check_seconds`, so an
answer can lag a commit by that long at most; between commits every viewer gets the kept bytes
without a query, and a viewer whose copy is current gets 304 Not Modified."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


CHECK_SECONDS = 0.25  # how often a process asks for the data version: the most an answer lags a commit
COMPUTE_WAIT_SECONDS = 10  # past this, a waiting request computes the answer itself


@dataclass(frozen=True)
class Answer:
    """A serialized JSON answer and its ETag (unquoted: the response quotes it)."""

    body: bytes
    etag: str


def etag_of(body: bytes) -> str:
    """A strong ETag: a hash of the body, so an unchanged answer keeps its tag across versions."""
    return hashlib.blake2b(body, digest_size=12).hexdigest()


class _Computation:
    """An answer being computed, which other requests for it wait for."""

    def __init__(self):
        self.done = threading.Event()
        self.answer: Answer | None = None


class AnswerCache:
    """Answers by request key for the newest data version; older versions' answers are dropped."""

    def __init__(self, check_seconds: float = CHECK_SECONDS, max_answers: int = 2048, max_age_seconds: float = 60,
                 clock: Callable[[], float] = time.monotonic):
        self.check_seconds = check_seconds
        self.max_answers = max_answers
        # Some answers also depend on the clock (rejects of the last 24 h): without writes, they are
        # computed again after this long.
        self.max_age_seconds = max_age_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._version: int | None = None
        self._checked_at = float("-inf")
        self._cleared_at = float("-inf")
        self._answers: OrderedDict[str, Answer] = OrderedDict()
        self._computing: dict[tuple[str, int], _Computation] = {}

    def current_version(self, read_version: Callable[[], int]) -> int:
        """The data version, read again with `read_version` when the last read is `check_seconds` old."""
        with self._lock:
            if self._clock() - self._checked_at < self.check_seconds and self._version is not None:
                return self._version
        version = read_version()  # outside the lock: a slow database must not hold every thread
        with self._lock:
            self._checked_at = self._clock()
            if version != self._version or self._checked_at - self._cleared_at >= self.max_age_seconds:
                self._version = version
                self._answers.clear()
                self._cleared_at = self._checked_at
            return self._version

    def answer(self, key: str, read_version: Callable[[], int], compute: Callable[[], bytes]) -> Answer:
        """The kept answer for `key` at the current version, or `compute()`'s, kept. Requests for
        the same key and version while it is being computed wait for that one computation."""
        version = self.current_version(read_version)
        with self._lock:
            found = self._answers.get(key)
            if found is not None:
                self._answers.move_to_end(key)
                return found
            computing = self._computing.get((key, version))
            first = computing is None
            if first:
                computing = self._computing[(key, version)] = _Computation()
        if not first:
            computing.done.wait(COMPUTE_WAIT_SECONDS)
            if computing.answer is not None:
                return computing.answer
            # the first request failed or is stuck: this one computes (and fails) on its own
        try:
            body = compute()
            answer = Answer(body, etag_of(body))
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
