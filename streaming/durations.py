"""Durations as the job's flags give them ('2 minutes', '250 milliseconds'): checked, normalized, converted."""

from __future__ import annotations

import re

DURATION = re.compile(r"^\s*(\d+)\s+(millisecond|second|minute|hour|day)s?\s*$")
UNIT_SECONDS = {"millisecond": 0.001, "second": 1, "minute": 60, "hour": 3600, "day": 86400}


def parse_duration(text: str, allow_zero: bool = False, allow_milliseconds: bool = False) -> str:
    """Normalize '5 minutes' / '1 minute' / '30 seconds' (and '250 milliseconds' if allowed); ValueError otherwise."""
    match = DURATION.match(text)
    if (
        not match
        or int(match.group(1)) < (0 if allow_zero else 1)
        or (match.group(2) == "millisecond" and not allow_milliseconds)
    ):
        example = "'250 milliseconds', '1 second'" if allow_milliseconds else "'1 minute' or '30 seconds'"
        raise ValueError(f"not a duration like {example}: {text!r}")
    count, unit = int(match.group(1)), match.group(2)
    return f"{count} {unit}" + ("s" if count != 1 else "")


def duration_seconds(duration: str) -> float:
    """'5 minutes' -> 300; '250 milliseconds' -> 0.25."""
    match = DURATION.match(duration)
    if match is None:
        raise ValueError(f"not a duration: {duration!r}")
    count, unit = match.groups()
    return int(count) * UNIT_SECONDS[unit]
