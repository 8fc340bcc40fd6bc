"""`python -m bench [--quick]`: every benchmark on a private local stack, then the report
(bench/results/<date>-<host>.json and .md, latest.md, and the README's Performance table)."""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.freshness import measure_freshness
from bench.machine import describe_machine
from bench.producer_rate import measure_producer
from bench.report import replace_between_markers, write_report
from bench.stack import BenchStack
from bench.stats import spread_runs
from bench.sustained import find_sustained_rate
from bench.throughput import measure_backlog
from bench.webapi import measure_web_api
from bench.webpage import measure_web_page
from common.settings import REPO_ROOT

log = logging.getLogger("bench")

SCENARIOS = ("backlog", "sustained", "freshness", "web", "page", "producer")


@dataclass(frozen=True)
class Sizes:
    """How big and how long each benchmark is."""

    runs: int = 3  # of every measurement but freshness (one run there is thousands of events)
    backlog_events: int = 2_000_000
    # The per-event baseline runs at a few thousand events/s: it reads the backlog's first events only.
    per_event_limit: int = 50_000
    hour_batch_events: int = 50_000  # maxOffsetsPerTrigger of the hour of trading, so state is evicted
    sustained_rates: tuple[int, ...] = (5_000, 10_000, 20_000, 40_000, 70_000, 100_000)
    sustained_seconds: float = 30
    generator_workers: int = 2
    freshness_seconds: float = 60
    freshness_warmup_seconds: float = 30
    web_rows: int = 1_000_000
    web_seconds: int = 10
    page_history_rows: tuple[int, ...] = (10_000, 100_000, 1_000_000)  # the page's poll cost at each
    page_polls: int = 30
    page_viewers: int = 500
    page_viewer_seconds: float = 60
    # Asked for more than kafka-python can publish, so the figure is the producer's ceiling.
    producer_rate: int = 100_000
    producer_cycles: int = 4


FULL = Sizes()
# The producer's synthetic market at three loads, the job with its default trigger.
FRESHNESS_LOADS = {
    "demo": ["--interval", "1"],  # `make demo`: 8 tickers, a quote each per second
    "rate_80": ["--rate", "80", "--interval", "0.1"],  # 80 trades/s spread evenly
    "rate_10k": ["--rate", "10000", "--interval", "0.2"],
}
QUICK = Sizes(
    runs=1,
    backlog_events=200_000,
    per_event_limit=10_000,
    hour_batch_events=20_000,
    sustained_rates=(5_000, 20_000),
    sustained_seconds=15,
    freshness_seconds=20,
    freshness_warmup_seconds=15,
    web_seconds=5,
    page_history_rows=(10_000, 100_000),
    page_polls=10,
    page_viewer_seconds=20,
    producer_rate=20_000,
    producer_cycles=2,
)


def run_scenarios(stack: BenchStack, work: Path, sizes: Sizes, only: tuple[str, ...]) -> dict:
    """Run the chosen benchmarks one after the other (never two at once: they would share the cores)."""
    results: dict = {}
    if "producer" in only:
        runs = [measure_producer(stack, work, sizes.producer_rate, sizes.producer_cycles) for _ in range(sizes.runs)]
        results["producer"] = spread_runs(runs)
    if "backlog" in only:
        results["backlog"] = measure_backlog(stack, work, sizes)
    if "sustained" in only:
        results["sustained"] = find_sustained_rate(
            stack, work, list(sizes.sustained_rates), sizes.sustained_seconds, sizes.generator_workers
        )
    if "freshness" in only:
        results["freshness"] = {
            name: measure_freshness(stack, work, name, args, sizes.freshness_seconds, sizes.freshness_warmup_seconds)
            for name, args in FRESHNESS_LOADS.items()
        }
    if "web" in only:
        results["web_api"] = measure_web_api(stack, work, sizes.web_rows, sizes.runs, sizes.web_seconds)
    if "page" in only:
        results["web_page"] = measure_web_page(
            stack, work, sizes.page_history_rows, sizes.page_polls, sizes.page_viewers, sizes.page_viewer_seconds
        )
    return results


def parse_args(argv):
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one run each, smaller sizes (a few minutes)")
    parser.add_argument("--only", default=",".join(SCENARIOS), help=f"comma-separated subset of {','.join(SCENARIOS)}")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "results", help="where the report goes")
    parser.add_argument("--no-readme", action="store_true", help="leave README.md's Performance table alone")
    args = parser.parse_args(argv)
    only = tuple(s.strip() for s in args.only.split(",") if s.strip())
    unknown = set(only) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    return args, only


def main(argv=None) -> int:
    """Entry point: start the stack, run, report, stop the stack."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s [bench] %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)
    args, only = parse_args(argv)
    sizes = QUICK if args.quick else FULL
    results = {
        "mode": "quick" if args.quick else "full",
        "sizes": asdict(sizes),
        "scenarios": list(only),
        "machine": describe_machine(),
        "started_at": datetime.now(UTC).isoformat(),
    }
    stack = BenchStack.start()
    try:
        with tempfile.TemporaryDirectory(prefix="run-", dir=stack.root) as work:
            results.update(run_scenarios(stack, Path(work), sizes, only))
    finally:
        stack.stop()
    results["finished_at"] = datetime.now(UTC).isoformat()
    json_path, md_path = write_report(results, args.out)
    log.info("wrote %s and %s", json_path, md_path)
    if not args.no_readme:
        readme = REPO_ROOT / "README.md"
        readme.write_text(replace_between_markers(readme.read_text(), md_path.read_text()))
        log.info("updated the Performance table in %s", readme)
    print(md_path.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
