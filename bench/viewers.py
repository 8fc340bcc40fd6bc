"""`python -m bench.viewers URL --viewers N --seconds S --poll P`: N simulated viewers of the live
page, each asking for its snapshot every P seconds as the page does (with the ETag of its last answer,
so unchanged answers come back as 304), started at random moments of the first interval. Prints one
JSON object: every request's latency and status, summarized. A process of its own, so the bench's
other threads never delay a viewer."""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time

import aiohttp

from bench.stats import latency_percentiles
from common import flags
from common.settings import DEFAULT_SYMBOLS


def viewer_paths(viewers: int, seed: int = 5) -> list[str]:
    """What each viewer watches: mostly 1-minute candles, some 5-minute, of any of the demo's symbols."""
    rng = random.Random(seed)
    return [
        f"/api/snapshot?window={'1m' if rng.random() < 0.7 else '5m'}&limit=200&symbol={rng.choice(DEFAULT_SYMBOLS)}"
        for _ in range(viewers)
    ]


async def watch(
    session: aiohttp.ClientSession, url: str, delay: float, poll: float, until: float, results: list
) -> None:
    """One viewer: a poll every `poll` seconds from `delay` on, until the loop's clock reaches `until`."""
    loop = asyncio.get_running_loop()
    await asyncio.sleep(delay)
    etag = None
    due = loop.time()
    while due < until:
        started = time.perf_counter()
        try:
            async with session.get(url, headers={"If-None-Match": etag} if etag else {}) as answer:
                await answer.read()
                status = answer.status
                etag = answer.headers.get("ETag", etag)
        except (TimeoutError, aiohttp.ClientError) as exc:
            status = type(exc).__name__
        results.append((time.perf_counter() - started, status))
        due += poll
        await asyncio.sleep(max(0.0, due - loop.time()))


async def run_viewers(base: str, viewers: int, seconds: float, poll: float) -> list:
    """Every viewer's requests as (seconds, status)."""
    results: list = []
    rng = random.Random(7)
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        until = asyncio.get_running_loop().time() + seconds
        await asyncio.gather(
            *(watch(session, base + path, rng.uniform(0, poll), poll, until, results) for path in viewer_paths(viewers))
        )
    return results


def summarize(results: list, seconds: float) -> dict:
    """Latency percentiles (seconds), statuses and the request rate."""
    latencies = [latency for latency, _ in results]
    statuses: dict = {}
    for _, status in results:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    errors = sum(count for status, count in statuses.items() if status not in ("200", "304"))
    return {
        "requests": len(results),
        "requests_per_second": len(results) / seconds,
        **(latency_percentiles(latencies) if latencies else {}),
        "statuses": statuses,
        "errors": errors,
        "not_modified_share": statuses.get("304", 0) / len(results) if results else None,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.viewers", description=__doc__)
    parser.add_argument("base", help="the webapp's address, e.g. http://127.0.0.1:5000")
    parser.add_argument("--viewers", type=flags.positive_int, default=500)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--poll", type=float, default=5)
    args = parser.parse_args(argv)
    results = asyncio.run(run_viewers(args.base.rstrip("/"), args.viewers, args.seconds, args.poll))
    print(json.dumps(summarize(results, args.seconds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
