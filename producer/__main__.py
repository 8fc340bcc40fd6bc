"""`python -m producer`: publish stock events to Kafka from Finnhub, a synthetic market or a file."""

from __future__ import annotations

import argparse
import logging
import sys

from kafka.errors import KafkaError

from common import flags
from common.contract import SOURCES
from common.entrypoint import configure_logging, stop_on_signals
from common.servers import ServerUnreachable, require_kafka
from common.settings import SettingsError, load_settings
from producer.errors import ApiKeyRejected
from producer.finnhub_rest import FinnhubQuoteSource
from producer.finnhub_ws import FinnhubTradeStream
from producer.loop import run_cycles
from producer.publisher import Publisher
from producer.ratelimit import FINNHUB_MINUTE, finnhub_limiter
from producer.replay import ReplaySource
from producer.source import PollingSource, Source
from producer.synthetic import SyntheticSource

log = logging.getLogger("producer")

SYNTHETIC_DEFAULT_INTERVAL = 1.0


def parse_args(argv):
    """The command line; values left out fall back to the settings."""
    parser = argparse.ArgumentParser(prog="python -m producer", description=__doc__)
    parser.add_argument(
        "--source",
        choices=SOURCES,
        help="where events come from (default: finnhub when FINNHUB_API_KEY is set, else synthetic)",
    )
    parser.add_argument("--symbols", type=flags.symbols, help="comma-separated tickers (default: SYMBOLS)")
    parser.add_argument(
        "--interval",
        type=flags.positive_number,
        help="seconds between polling cycles, fractions allowed "
        f"(default: POLL_INTERVAL_SECONDS for finnhub, {SYNTHETIC_DEFAULT_INTERVAL} for synthetic)",
    )
    parser.add_argument(
        "--cycles", type=flags.positive_int, help="stop after this many polling cycles (default: run until stopped)"
    )
    parser.add_argument("--seed", type=flags.whole_number, help="synthetic: random seed, for a reproducible market")
    parser.add_argument(
        "--rate",
        type=flags.positive_number,
        help="synthetic: trades per second over all symbols (default: one per symbol per cycle)",
    )
    parser.add_argument(
        "--file", type=flags.readable_file, help="replay: a JSONL file of contract messages or a CSV file"
    )
    parser.add_argument(
        "--speed",
        type=flags.non_negative_number,
        default=1.0,
        help="replay: 1 = real time, 10 = ten times faster, 0 = at once",
    )
    parser.add_argument(
        "--record",
        type=flags.writable_file,
        help="also append every message queued for Kafka to this JSONL file (dead letters excepted)",
    )
    # A test hook, not part of the command line's contract: the window of the per-minute limit, so
    # tests can spend and wait out a "minute" of Finnhub calls in seconds.
    parser.add_argument("--limit-window", type=flags.positive_number, default=FINNHUB_MINUTE, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.source == "replay" and args.file is None:
        parser.error("--source replay needs --file")
    return args


def build_source(args, settings) -> Source:
    """The source the arguments ask for: a polling source or a stream."""
    source = args.source or ("finnhub" if settings.finnhub_api_key else "synthetic")
    symbols = args.symbols or settings.symbols
    if source == "synthetic":
        if args.source is None:
            log.info("no FINNHUB_API_KEY set: publishing a synthetic market")
        interval = args.interval or SYNTHETIC_DEFAULT_INTERVAL
        return SyntheticSource(symbols, seed=args.seed, rate=args.rate, interval=interval)
    if source == "replay":
        return ReplaySource(args.file, args.speed)
    if not settings.finnhub_api_key:
        raise SettingsError(
            f"--source {source} needs FINNHUB_API_KEY (in the environment or .env); "
            "to try the pipeline without one, use --source synthetic"
        )
    if source == "finnhub-ws":
        return FinnhubTradeStream(symbols, settings.finnhub_api_key, settings.finnhub_ws_url)
    limiter = finnhub_limiter(
        settings.finnhub_max_calls_per_minute, settings.finnhub_max_calls_per_second, len(symbols), args.limit_window
    )
    return FinnhubQuoteSource(
        symbols,
        settings.finnhub_api_key,
        settings.finnhub_base_url,
        limiter,
        timeout=settings.finnhub_timeout_seconds,
        interval=args.interval or settings.poll_interval_seconds,
    )


def configure_producer_logging() -> None:
    """Our lines on stderr; the client libraries only when something is wrong."""
    # websocket-client and urllib3 may print URLs, and Finnhub's carry the token: we report
    # their errors ourselves, with the token masked. kafka.cluster: startup metadata noise.
    configure_logging(
        {
            "kafka": logging.WARNING,
            "kafka.cluster": logging.ERROR,
            "websocket": logging.CRITICAL,
            "urllib3": logging.ERROR,
        }
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(without_kafka_client_traceback)


def without_kafka_client_traceback(record: logging.LogRecord) -> bool:
    """Keep kafka-python's one-line error, drop the traceback of its socket code: while a broker
    is down, each reconnect would otherwise print one that says nothing the line does not."""
    if record.name.startswith("kafka."):
        record.exc_info = None
        record.exc_text = None
    return True


def main(argv=None) -> int:
    """Entry point: exit 0 when stopped or done, 2 on a configuration or API-key problem, 1 without Kafka."""
    configure_producer_logging()
    args = parse_args(argv)
    try:
        settings = load_settings()
        source = build_source(args, settings)
    except SettingsError as exc:
        log.error("%s", exc)
        return 2
    try:
        require_kafka(settings.kafka_bootstrap_servers)
    except ServerUnreachable as exc:
        log.error("%s", exc)
        return 1

    stop, _ = stop_on_signals("finishing the call in flight, then flushing")

    publisher = Publisher(
        settings.kafka_bootstrap_servers, settings.kafka_topic, settings.kafka_dlq_topic, record_path=args.record
    )
    log.info(
        "publishing %s events%s to %s (topic %s, dead letters %s)%s",
        source.name,
        f" for {','.join(source.symbols)}" if source.symbols else f" from {args.file}",
        settings.kafka_bootstrap_servers,
        settings.kafka_topic,
        settings.kafka_dlq_topic,
        f" every {source.interval:.3g} s" if isinstance(source, PollingSource) else "",
    )
    summary = ""
    try:
        publisher.connect()
        if isinstance(source, PollingSource):
            summary = f"{run_cycles(source, publisher, args.cycles, stop)} cycles"
        else:
            summary = source.run(publisher, stop).describe()
    except ApiKeyRejected as exc:
        log.error("%s: check the key, or use --source synthetic", exc)
        return 2
    except KafkaError as exc:
        log.error("Kafka at %s is not usable: %s", settings.kafka_bootstrap_servers, exc)
        return 1
    finally:
        publisher.close()
    log.info(
        "stopped after %s: %d delivered, %d dead-lettered, %d failed deliveries",
        summary,
        publisher.delivered,
        publisher.dead_lettered,
        publisher.failed,
    )
    return 0 if publisher.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
