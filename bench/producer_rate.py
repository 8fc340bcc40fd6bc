"""The pipeline's own producer (kafka-python, gzip, acks=all): synthetic publish rate and memory."""

from __future__ import annotations

import re
from pathlib import Path

from bench.stack import BenchStack, Watched

DELIVERED = re.compile(r"stopped after .*?: (\d+) delivered, \d+ dead-lettered, (\d+) failed")


def measure_producer(stack: BenchStack, work: Path, rate: int, cycles: int) -> dict:
    """`python -m producer --source synthetic --rate R --cycles C`, asked for more than it can publish:
    delivered events over the process's wall time (start-up included), and its peak RSS."""
    topic = stack.new_topic("producer")
    producer = Watched(
        "producer",
        ["--source", "synthetic", "--rate", str(rate), "--interval", "1", "--cycles", str(cycles)],
        stack.pipeline_env(topic, work),
        work / "producer-rate.log",
    )
    seconds = producer.wait(timeout=600)
    match = DELIVERED.search(producer.output())
    if not match or int(match.group(2)):
        raise RuntimeError(f"the producer did not deliver everything:\n{producer.output()[-2000:]}")
    delivered = int(match.group(1))
    return {
        "events": delivered,
        "seconds": seconds,
        "events_per_second": delivered / seconds,
        "peak_rss_bytes": producer.peak_rss,
    }
