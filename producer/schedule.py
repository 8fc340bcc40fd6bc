"""When polling cycles start: on a fixed grid t0 + k * interval, so slow cycles cause no drift."""

from __future__ import annotations

import math


def next_cycle_start(t0: float, interval: float, now: float) -> float:
    """The first grid slot strictly after `now`; a cycle that overran skips to the next free slot."""
    elapsed = now - t0
    slots = math.floor(elapsed / interval) + 1 if elapsed >= 0 else 0
    return t0 + slots * interval
