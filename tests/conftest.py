"""Shared fixtures: a real Kafka broker and Postgres (started on free ports unless the environment
names existing ones), unique topics per test, clean tables, and a Spark session."""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass

import psycopg2
import pytest
from hypothesis import HealthCheck, settings

from common.settings import REPO_ROOT
from devstack.kafka import KAFKA_JARS_DIR, KafkaBroker
from devstack.postgres import PostgresServer
from devstack.process import free_kafka_port, free_port
from devstack.schema import apply_schema, grant_read_only
from common.topics import ensure_topics

# Generating examples slows down when other work shares the 2 cores; a slow example is not a
# failing one, so no test depends on the machine's load.
settings.register_profile("shared-cores", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("shared-cores")

@dataclass(frozen=True)
class Stack:
    """Where the test servers are."""

    bootstrap_servers: str
    database_url: str
    postgres: PostgresServer | None = None  # set when the tests started them, so they may restart them
    kafka: KafkaBroker | None = None
    reader_url: str | None = None  # a role that may only read, when the tests created one


@pytest.fixture(scope="session")
def stack():
    """Kafka and Postgres: the ones in KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL when both are set,
    otherwise a fresh pair on free ports, stopped and removed after the session."""
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS") and os.environ.get("DATABASE_URL"):
        found = Stack(os.environ["KAFKA_BOOTSTRAP_SERVERS"], os.environ["DATABASE_URL"])
        apply_schema(found.database_url)
        yield found
        return
    # Under the repository; when the postgres user cannot reach it (a clone in a private folder),
    # Postgres keeps its data in that user's home instead (devstack.postgres.locate_cluster).
    state_root = REPO_ROOT / "var" / f"test-stack-{os.getpid()}"
    started = Stack(
        f"localhost:{free_kafka_port()}",
        f"postgresql://stocks_test:test-{uuid.uuid4().hex[:8]}@localhost:{free_port()}/stocks_test",
    )
    broker = KafkaBroker(started.bootstrap_servers, state_root / "kafka", KAFKA_JARS_DIR)
    postgres = PostgresServer(started.database_url, state_root / "postgres")
    reader_url = started.database_url.replace("stocks_test:", "stocks_test_reader:", 1)
    started = Stack(
        started.bootstrap_servers, started.database_url, postgres=postgres, kafka=broker, reader_url=reader_url
    )
    try:
        broker.start()
        postgres.start()
        apply_schema(started.database_url)
        grant_read_only(started.database_url, postgres.ensure_reader(reader_url))
        yield started
    finally:
        broker.stop()
        postgres.stop()
        postgres.remove()
        shutil.rmtree(state_root, ignore_errors=True)


@pytest.fixture
def topic_factory(stack):
    """Creates topics with unique names, so tests never see each other's messages."""

    def create(prefix: str = "quotes") -> str:
        name = f"test-{prefix}-{uuid.uuid4().hex[:10]}"
        ensure_topics(stack.bootstrap_servers, [name, f"{name}-dlq"])
        return name

    return create


@pytest.fixture
def db(stack):
    """A connection to the test database with empty tables."""
    connection = psycopg2.connect(stack.database_url)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE stock_aggregates, stock_window_state, rejected_events, streaming_batches")
    yield connection
    connection.close()


@pytest.fixture
def pipeline_env(stack, tmp_path):
    """Environment for running the pipeline's processes against the test stack and a topic."""

    def build(topic: str, **extra: str) -> dict:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("FINNHUB_", "KAFKA_", "DATABASE_", "CHECKPOINT_", "SYMBOLS"))
        }
        env.update(
            FINNHUB_API_KEY="",
            KAFKA_BOOTSTRAP_SERVERS=stack.bootstrap_servers,
            DATABASE_URL=stack.database_url,
            KAFKA_TOPIC=topic,
            KAFKA_DLQ_TOPIC=f"{topic}-dlq",
            CHECKPOINT_DIR=str(tmp_path / "checkpoints"),
            PYTHONPATH=str(REPO_ROOT),
        )
        env.update(extra)
        return env

    return build


@pytest.fixture(scope="session")
def spark():
    """A local Spark session with the Kafka connector, shared by the tests that need one."""
    from streaming.session import build_spark_session

    session = build_spark_session("stock-pipeline-tests")
    yield session
    session.stop()


@pytest.fixture
def repo_root():
    """The repository root."""
    return REPO_ROOT
