"""Replaying a recorded session or a backfill file: JSONL contract messages or CSV rows."""

from __future__ import annotations

import csv
import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from common.contract import build_trade_message, epoch_ms, message_problem, replay_message_id
from producer.publisher import Publisher, build_dead_letter

log = logging.getLogger(__name__)

PROGRESS_SECONDS = 10.0
# A CSV timestamp this large is in milliseconds, smaller ones are seconds (year 5138 in seconds).
MILLISECONDS_FROM = 100_000_000_000


@dataclass
class ReplayStats:
    """Counters of a replay, for progress lines and the exit summary."""

    published: int = 0
    rejected: int = 0

    def describe(self) -> str:
        """One line of counters."""
        return f"{self.published} events published, {self.rejected} rejected"


def parse_timestamp(text: str) -> int:
    """Epoch milliseconds from epoch seconds, epoch milliseconds or ISO 8601 (UTC when no zone)."""
    text = text.strip()
    try:
        number = float(text)
    except ValueError:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return round(moment.timestamp() * 1000)
    return round(number if number >= MILLISECONDS_FROM else number * 1000)


def message_from_csv_row(row: list[str], line: int, now_ms: int) -> dict:
    """A contract message from `symbol,timestamp,price[,volume]`; ValueError says what is wrong."""
    if len(row) not in (3, 4):
        raise ValueError(f"expected symbol,timestamp,price[,volume], got {len(row)} fields")
    symbol, stamp, price = row[0].strip().upper(), row[1], row[2]
    volume = row[3].strip() if len(row) == 4 else ""
    event_time = parse_timestamp(stamp)
    message = build_trade_message(
        message_id=replay_message_id(symbol, event_time, line),
        symbol=symbol,
        price=float(price),
        volume=float(volume) if volume else None,
        event_time_ms=event_time,
        source="replay",
        ingested_at_ms=now_ms,
    )
    problem = message_problem(message)
    if problem:
        raise ValueError(problem)
    return message


def message_from_json_line(text: str, now_ms: int) -> dict:
    """A recorded contract message, re-stamped as replayed now; ValueError says what is wrong."""
    message = json.loads(text)
    problem = message_problem(message)
    if problem:
        raise ValueError(problem)
    return {**message, "source": "replay", "ingested_at": now_ms}


def read_records(path: Path) -> Iterator[tuple[int, str, dict | str]]:
    """(line number, raw line, the message or why the line is none) for each non-empty line."""
    is_csv = path.suffix.lower() == ".csv"
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        for line, text in enumerate(handle, start=1):
            text = text.rstrip("\r\n")
            if not text.strip():
                continue
            try:
                if is_csv:
                    row = next(csv.reader([text]))
                    if line == 1 and row and row[0].strip().lower() == "symbol":
                        continue  # header
                    yield line, text, message_from_csv_row(row, line, epoch_ms())
                else:
                    yield line, text, message_from_json_line(text, epoch_ms())
            except (ValueError, TypeError) as exc:
                yield line, text, f"line {line}: {exc}"


class ReplaySource:
    """Publishes a file's events, paced by their event times (`speed` 1 = real time, 0 = at once)."""

    name = "replay"

    def __init__(self, path: Path, speed: float):
        self.path = path
        self.speed = speed
        self.symbols: tuple[str, ...] = ()
        self.stats = ReplayStats()

    def run(self, publisher: Publisher, stop: threading.Event) -> ReplayStats:
        """Replay the whole file once, or until `stop`."""
        first_event, started = None, time.monotonic()
        last_progress = started
        for _line, raw, message in read_records(self.path):
            if stop.is_set():
                break
            if isinstance(message, str):
                publisher.dead_letter(
                    build_dead_letter(source=self.name, symbol=None, raw=raw, reason=message, now_ms=epoch_ms())
                )
                self.stats.rejected += 1
                continue
            if self.speed > 0:
                first_event = message["event_time"] if first_event is None else first_event
                due = started + (message["event_time"] - first_event) / 1000 / self.speed
                if stop.wait(max(0.0, due - time.monotonic())):
                    break
            publisher.publish(message)
            self.stats.published += 1
            if time.monotonic() - last_progress >= PROGRESS_SECONDS:
                log.info("replay of %s: %s", self.path.name, self.stats.describe())
                last_progress = time.monotonic()
        log.info("replay of %s finished: %s", self.path.name, self.stats.describe())
        return self.stats
