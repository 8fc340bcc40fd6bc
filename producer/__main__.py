"""`python -m producer`: publish stock events to Kafka from Finnhub or a synthetic market."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from kafka.errors import KafkaError

from common.settings import SettingsError, load_settings, parse_positive_seconds, parse_symbols
from producer.loop import run_cycles
from producer.publisher import Publisher
from producer.sources import ApiKeyRejected, FinnhubQuoteSource, SyntheticSource

log = logging.getLogger("producer")

SYNTHETIC_DEFAULT_INTERVAL = 1.0


def parse_args(argv):
    """The command line; values left out fall back to the settings."""
    parser = argparse.ArgumentParser(prog="python -m producer", description=__doc__)
    parser.add_argument(
        "--source",
        choices=["finnhub", "synthetic"],
        help="where events come from (default: finnhub when FINNHUB_API_KEY is set, else synthetic)",
    )
    parser.add_argument(
        "--interval",
        type=lambda t: parse_positive_seconds("--interval", t),
        help="seconds between cycles, fractions allowed "
        f"(default: POLL_INTERVAL_SECONDS for finnhub, {SYNTHETIC_DEFAULT_INTERVAL} for synthetic)",
    )
    parser.add_argument("--cycles", type=int, help="stop after this many cycles (default: run until stopped)")
    parser.add_argument("--symbols", type=parse_symbols, help="comma-separated tickers (default: SYMBOLS)")
    parser.add_argument("--seed", type=int, help="random seed of the synthetic market")
    args = parser.parse_args(argv)
    if args.cycles is not None and args.cycles < 1:
        parser.error("--cycles must be at least 1")
    return args


def build_source(args, settings):
    """The source the arguments ask for; a clear error when Finnhub is asked for without a key."""
    source = args.source or ("finnhub" if settings.finnhub_api_key else "synthetic")
    symbols = args.symbols or settings.symbols
    if source == "synthetic":
        if args.source is None:
            log.info("no FINNHUB_API_KEY set: publishing a synthetic market")
        return SyntheticSource(symbols, seed=args.seed), args.interval or SYNTHETIC_DEFAULT_INTERVAL
    if not settings.finnhub_api_key:
        raise SettingsError(
            "--source finnhub needs FINNHUB_API_KEY (in the environment or .env); "
            "to try the pipeline without one, use --source synthetic"
        )
    source = FinnhubQuoteSource(symbols, settings.finnhub_api_key, settings.finnhub_base_url)
    return source, args.interval or settings.poll_interval_seconds


def main(argv=None) -> int:
    """Entry point: exit 0 when stopped or done, 2 on a configuration or API-key problem."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)
    logging.getLogger("kafka.cluster").setLevel(logging.ERROR)  # startup metadata noise
    args = parse_args(argv)
    try:
        settings = load_settings()
        source, interval = build_source(args, settings)
    except SettingsError as exc:
        log.error("%s", exc)
        return 2

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())

    publisher = Publisher(settings.kafka_bootstrap_servers, settings.kafka_topic, settings.kafka_dlq_topic)
    log.info(
        "publishing %s events for %s to %s (topic %s) every %.3g s",
        source.name, ",".join(source.symbols), settings.kafka_bootstrap_servers, settings.kafka_topic, interval,
    )
    try:
        publisher.connect()
        cycles = run_cycles(source, publisher, interval, args.cycles, stop)
    except ApiKeyRejected as exc:
        log.error("%s: check the key, or use --source synthetic", exc)
        return 2
    except KafkaError as exc:
        log.error("Kafka at %s is not usable: %s", settings.kafka_bootstrap_servers, exc)
        return 1
    finally:
        publisher.close()
    log.info(
        "stopped after %d cycles: %d delivered, %d dead-lettered, %d failed deliveries",
        cycles, publisher.delivered, publisher.dead_lettered, publisher.failed,
    )
    return 0 if publisher.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
