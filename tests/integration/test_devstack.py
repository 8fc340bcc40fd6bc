"""The local stack: a second start sees the servers up, the schema is in place, and `make stack` works
from a clone in a folder the postgres user cannot enter, its data kept across stack-down and stack."""

import os
import pwd
import re
import shutil
import stat
import subprocess
from pathlib import Path

import psycopg2
from kafka import KafkaAdminClient

from common.settings import REPO_ROOT
from common.topics import ensure_topics
from devstack.kafka import KAFKA_JARS_DIR, KafkaBroker
from devstack.postgres import PostgresServer
from devstack.process import free_kafka_port, free_port
from devstack.schema import apply_schema

PIPELINE_VARIABLES = ("FINNHUB_", "KAFKA_", "DATABASE_", "CHECKPOINT_", "SYMBOLS", "WEB_")


def test_starting_a_running_stack_again_changes_nothing(stack, tmp_path):
    assert KafkaBroker(stack.bootstrap_servers, tmp_path / "k", KAFKA_JARS_DIR).start() is False
    assert PostgresServer(stack.database_url, tmp_path / "p").start() is False


def test_schema_applies_again_and_has_the_contract_tables(stack, db):
    assert apply_schema(stack.database_url)[0] == "001_stock_aggregates.sql"
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_name IN ('stock_aggregates', 'rejected_events') ORDER BY table_name, ordinal_position"
        )
        columns = cursor.fetchall()
    assert [c for t, c in columns if t == "stock_aggregates"] == [
        "symbol",
        "window_start",
        "window_end",
        "open_price",
        "high_price",
        "low_price",
        "close_price",
        "avg_price",
        "price_stddev",
        "event_count",
        "volume",
        "vwap",
        "first_event_at",
        "last_event_at",
        "updated_at",
    ]
    assert [c for t, c in columns if t == "rejected_events"] == [
        "topic",
        "partition",
        "kafka_offset",
        "raw_value",
        "reason",
        "seen_at",
    ]


def copy_of_repository(destination: Path) -> Path:
    """The working tree's tracked files (uncommitted changes included) in `destination`, with the
    repository's virtualenv, jars and node modules linked in, so `make setup` has nothing to do."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, check=True).stdout
    for name in filter(None, listed.decode().split("\0")):
        if (REPO_ROOT / name).is_file():  # a tracked file deleted in the working tree is not copied
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO_ROOT / name, destination / name)
    for installed in (".venv", "var/jars", "webapp/node_modules"):
        (destination / installed).parent.mkdir(parents=True, exist_ok=True)
        (destination / installed).symlink_to((REPO_ROOT / installed).resolve())
    return destination


def make(target: str, repository: Path, env: dict) -> str:
    """Run a Makefile target in `repository`; its output, after checking it succeeded."""
    done = subprocess.run(
        ["make", target], cwd=repository, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=600
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return output


def test_make_stack_works_from_a_private_folder_and_keeps_its_data(tmp_path):
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    assert stat.S_IMODE(private.stat().st_mode) == 0o700
    if os.geteuid() == 0:  # as root, Postgres runs as the postgres user, who cannot enter this folder
        assert subprocess.run(["runuser", "-u", "postgres", "--", "test", "-x", str(private)]).returncode == 1
    repository = copy_of_repository(private / "stock")
    bootstrap_servers = f"localhost:{free_kafka_port()}"
    database_url = f"postgresql://private:pw-private@localhost:{free_port()}/private"
    env = {k: v for k, v in os.environ.items() if not k.startswith(PIPELINE_VARIABLES)}
    env.update(KAFKA_BOOTSTRAP_SERVERS=bootstrap_servers, DATABASE_URL=database_url)
    topic = "kept-across-restarts"
    cluster_dir = None
    try:
        output = make("stack", repository, env)
        if os.geteuid() == 0:
            cluster_dir = Path(re.search(r"keeps its data in (\S+): the postgres user cannot reach", output)[1])
            assert cluster_dir.parent == Path(pwd.getpwnam("postgres").pw_dir) / "stock-pipeline"
            assert (cluster_dir / "data" / "PG_VERSION").exists()
        ensure_topics(bootstrap_servers, [topic])
        with psycopg2.connect(database_url) as connection, connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO rejected_events (topic, partition, kafka_offset, reason) "
                "VALUES ('kept', 0, 7, 'written before stack-down')"
            )
        make("stack-down", repository, env)
        assert "Postgres  started at" in make("stack", repository, env)
        with psycopg2.connect(database_url) as connection, connection.cursor() as cursor:
            cursor.execute("SELECT topic, kafka_offset, reason FROM rejected_events")
            assert cursor.fetchall() == [("kept", 7, "written before stack-down")]
        admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers)
        try:
            assert topic in admin.list_topics()
        finally:
            admin.close()
        assert "Postgres  stopped" in make("stack-down", repository, env)
    finally:
        subprocess.run(["make", "stack-down"], cwd=repository, env=env, capture_output=True, stdin=subprocess.DEVNULL)
        if cluster_dir is not None:
            shutil.rmtree(cluster_dir, ignore_errors=True)
        shutil.rmtree(repository, ignore_errors=True)
    assert stat.S_IMODE(private.stat().st_mode) == 0o700  # no folder of the user was opened up
