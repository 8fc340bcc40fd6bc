"""Shared fixtures: a real Kafka broker and Postgres (started on free ports unless the environment
names existing ones), unique topics per test, clean tables, and a Spark session."""

from __future__ import annotations

import os
import uuid

import psycopg2
import pytest
from hypothesis import HealthCheck, settings

from common.settings import REPO_ROOT
from common.topics import ensure_topics
from devstack.private import PrivateStack
from devstack.schema import apply_schema
from webapp import create_app

# Generating examples slows down when other work shares the 2 cores; a slow example is not a
# failing one, so no test depends on the machine's load.
settings.register_profile("shared-cores", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("shared-cores")


@pytest.fixture(scope="session")
def stack():
    """Kafka and Postgres: the ones in KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL when both are set,
    otherwise a fresh pair on free ports with a read-only role, stopped and removed after the session."""
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS") and os.environ.get("DATABASE_URL"):
        found = PrivateStack(os.environ["KAFKA_BOOTSTRAP_SERVERS"], os.environ["DATABASE_URL"])
        apply_schema(found.database_url)
        yield found
        return
    started = PrivateStack.start(REPO_ROOT / "var" / f"test-stack-{os.getpid()}", "stocks_test", reader=True)
    try:
        yield started
    finally:
        started.stop()


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
def make_app(stack):
    """The webapp over the test Postgres, seeing every write at once; keyword arguments override its
    config (the read-only role's DATABASE_URL, ANSWER_STALE_SECONDS)."""

    def build(**config):
        return create_app({"DATABASE_URL": stack.database_url, "TESTING": True, "ANSWER_STALE_SECONDS": 0, **config})

    return build


@pytest.fixture
def client(make_app, db):
    """A test client of the webapp over empty tables."""
    return make_app().test_client()


@pytest.fixture
def pipeline_env(stack, tmp_path):
    """Environment for running the pipeline's processes against the test stack and a topic."""

    def build(topic: str, **extra: str) -> dict:
        return stack.pipeline_env(topic, tmp_path / "checkpoints", **extra)

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
