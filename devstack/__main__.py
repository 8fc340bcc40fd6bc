"""`python -m devstack up|down|status|schema|demo`: the local Kafka (one broker, or KAFKA_BROKERS of them)
and Postgres of `make stack`."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from common import flags
from common.settings import REPO_ROOT, SettingsError, load_settings, mask_url_password
from devstack.demo import WEB_PORT, run_demo
from devstack.kafka import KAFKA_JARS_DIR, KafkaCluster, parse_bootstrap
from devstack.postgres import PostgresServer, parse_database_url
from devstack.process import StackError
from devstack.schema import apply_schema, grant_read_only

log = logging.getLogger("stack")

STATE_ROOT = REPO_ROOT / "var" / "stack"


class LocalStack:
    """The Kafka nodes and Postgres server addressed by the settings, kept under one folder."""

    def __init__(
        self,
        bootstrap_servers: str,
        database_url: str,
        reader_url: str = "",
        state_root: Path = STATE_ROOT,
        kafka_brokers: int = 1,
    ):
        self.database_url = database_url
        self.reader_url = reader_url
        _, kafka_port = parse_bootstrap(bootstrap_servers)
        postgres_port = parse_database_url(database_url)["port"]
        kafka_dir = state_root / (
            f"kafka-{kafka_port}" if kafka_brokers == 1 else f"kafka-{kafka_port}-x{kafka_brokers}"
        )
        self.kafka = KafkaCluster(bootstrap_servers, kafka_dir, KAFKA_JARS_DIR, kafka_brokers)
        self.postgres = PostgresServer(database_url, state_root / f"postgres-{postgres_port}")

    def up(self) -> None:
        """Start both servers when needed, wait until they accept connections, apply the schema."""
        started = self.kafka.start()
        log.info("Kafka     %s at %s (logs: %s)", _verb(started), self.kafka.bootstrap_servers, self.kafka.log_files)
        started = self.postgres.start()
        log.info("Postgres  %s at %s (logs: %s)", _verb(started), self.postgres.address, self.postgres.log_file)
        if self.postgres.cluster_dir != self.postgres.state_dir:
            log.info(
                "Postgres  keeps its data in %s: the postgres user cannot reach %s",
                self.postgres.cluster_dir,
                self.postgres.state_dir,
            )
        applied = apply_schema(self.database_url)
        log.info("schema    applied: %s", ", ".join(applied))
        reader = self.postgres.ensure_reader(self.reader_url) if self.reader_url else None
        if reader:
            grant_read_only(self.database_url, reader)
            log.info("webapp    reads as the read-only role %s", reader)
        if len(self.kafka.nodes) > 1:
            log.info(
                "KAFKA_BOOTSTRAP_SERVERS=%s (every node: clients ride out the loss of one)",
                self.kafka.bootstrap_servers,
            )
        log.info("DATABASE_URL=%s", mask_url_password(self.database_url))

    def down(self) -> None:
        """Stop both servers started from this repository."""
        log.info("Kafka     %s", "stopped" if self.kafka.stop() else "was not running from here")
        log.info("Postgres  %s", "stopped" if self.postgres.stop() else "was not running from here")

    def status(self) -> bool:
        """Report each server; True when both accept connections."""
        kafka_up, postgres_up = self.kafka.is_up(), self.postgres.is_up()
        log.info("Kafka     %s at %s", "up" if kafka_up else "down", self.kafka.bootstrap_servers)
        log.info("Postgres  %s at %s", "up" if postgres_up else "down", self.postgres.address)
        return kafka_up and postgres_up


def _verb(started: bool) -> str:
    return "started" if started else "already up"


def main(argv=None) -> int:
    """Entry point of `python -m devstack`."""
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__)
    parser.add_argument("command", choices=["up", "down", "status", "schema", "demo"])
    parser.add_argument(
        "--web-port", type=flags.port, default=WEB_PORT, help=f"demo: the page's port (default {WEB_PORT})"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[%(name)-9s] %(message)s")
    try:
        settings = load_settings()
        stack = LocalStack(
            settings.kafka_bootstrap_servers,
            settings.database_url,
            settings.web_database_url,
            kafka_brokers=settings.kafka_brokers,
        )
        if args.command == "up":
            stack.up()
        elif args.command == "down":
            stack.down()
        elif args.command == "demo":
            return run_demo(stack, args.web_port)
        elif args.command == "schema":
            log.info("schema applied: %s", ", ".join(apply_schema(settings.database_url)))
        else:
            return 0 if stack.status() else 1
    except (StackError, SettingsError) as exc:
        log.error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
