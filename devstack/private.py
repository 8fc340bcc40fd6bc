"""A private Kafka broker and Postgres on free ports, for one test session or one benchmark run:
started with their data under one folder, the schema applied, removed afterwards; and the
environment that points the pipeline's processes at them."""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from common.settings import REPO_ROOT
from devstack.kafka import KAFKA_JARS_DIR, KafkaBroker
from devstack.postgres import PostgresServer
from devstack.process import free_kafka_port, free_port
from devstack.schema import apply_schema, grant_read_only

# Variables of ours that a child process must not inherit from the caller's environment
PIPELINE_VARIABLES = ("FINNHUB_", "KAFKA_", "DATABASE_", "CHECKPOINT_", "SYMBOLS", "WEB_")


@dataclass
class PrivateStack:
    """Where a Kafka broker and a Postgres are. Those start() started carry their servers (to
    restart or stop them) and the folder of their data; others are servers found elsewhere."""

    bootstrap_servers: str
    database_url: str
    kafka: KafkaBroker | None = None
    postgres: PostgresServer | None = None
    root: Path | None = None
    reader_url: str | None = None  # a role that may only read, when start() created one

    @classmethod
    def start(cls, root: Path, name: str, reader: bool = False) -> Self:
        """Kafka and Postgres on free ports, their data under `root` (Postgres's may live in the
        postgres user's home when it cannot reach `root`: devstack.postgres.locate_cluster), the
        database, its role and its password named after `name`; `reader`: a read-only role too."""
        bootstrap_servers = f"localhost:{free_kafka_port()}"
        database_url = f"postgresql://{name}:{name}-{uuid.uuid4().hex[:8]}@localhost:{free_port()}/{name}"
        kafka = KafkaBroker(bootstrap_servers, root / "kafka", KAFKA_JARS_DIR)
        postgres = PostgresServer(database_url, root / "postgres")
        reader_url = database_url.replace(f"{name}:", f"{name}_reader:", 1) if reader else None
        stack = cls(bootstrap_servers, database_url, kafka, postgres, root, reader_url)
        try:
            kafka.start()
            postgres.start()
            apply_schema(database_url)
            role = postgres.ensure_reader(reader_url) if reader_url else None
            if role is not None:  # always with `reader`: its role's name differs from the owner's
                grant_read_only(database_url, role)
        except BaseException:
            stack.stop()
            raise
        return stack

    def stop(self) -> None:
        """Stop the servers start() started and remove their data."""
        for server in (self.kafka, self.postgres):
            if server is not None:
                server.stop()
        if self.postgres is not None:
            self.postgres.remove()  # its data may live outside `root` (a clone in a private folder)
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)

    def pipeline_env(self, topic: str, checkpoints: Path, **extra: str) -> dict[str, str]:
        """The environment for the pipeline's processes on these servers and `topic` (its dead
        letters on `topic`-dlq): nothing of ours inherited, no Finnhub key, `extra` last."""
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(PIPELINE_VARIABLES)}
        ours = {
            "FINNHUB_API_KEY": "",
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "DATABASE_URL": self.database_url,
            "KAFKA_TOPIC": topic,
            "KAFKA_DLQ_TOPIC": f"{topic}-dlq",
            "CHECKPOINT_DIR": str(checkpoints),
            "PYTHONPATH": str(REPO_ROOT),
        }
        return {**inherited, **ours, **extra}
