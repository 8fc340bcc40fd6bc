"""Kafka or Postgres missing at start: each process says so in one line naming the address and
`make stack`, exits 1, shows no traceback and no password, and has not started Spark."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from common.settings import REPO_ROOT
from devstack.process import free_port

PASSWORD = "hunter2-not-shown"


def environment(**values: str) -> dict:
    """This environment without our settings, plus `values`."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("FINNHUB_", "KAFKA_", "DATABASE_", "WEB_", "CHECKPOINT_"))
    }
    env.update(FINNHUB_API_KEY="", PYTHONPATH=str(REPO_ROOT), **values)
    return env


def run(module: str, env: dict, *args: str) -> subprocess.CompletedProcess:
    """`python -m module` to its end; a missing server must end it within seconds."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def assert_one_line_about(result: subprocess.CompletedProcess, message: str) -> None:
    output = result.stdout + result.stderr
    errors = [line for line in output.splitlines() if " ERROR " in line]
    assert result.returncode == 1, output
    assert len(errors) == 1 and errors[0].endswith(message), output
    assert "Traceback" not in output
    assert PASSWORD not in output
    assert "starting Spark" not in output


def kafka_message(address: str) -> str:
    return f"Kafka at {address} is not reachable: start it with `make stack`, or set KAFKA_BOOTSTRAP_SERVERS"


def postgres_message(address: str, variable: str) -> str:
    return f"Postgres at {address} is not reachable: start it with `make stack`, or set {variable}"


@pytest.mark.parametrize("module, args", [("producer", ["--cycles", "1"]), ("streaming", [])])
def test_without_kafka(module, args):
    kafka = f"127.0.0.1:{free_port()}"
    database = f"postgresql://u:{PASSWORD}@127.0.0.1:{free_port()}/x"
    env = environment(KAFKA_BOOTSTRAP_SERVERS=kafka, DATABASE_URL=database)
    assert_one_line_about(run(module, env, *args), kafka_message(kafka))


def test_the_streaming_job_without_postgres(stack):
    postgres = f"127.0.0.1:{free_port()}"
    env = environment(
        KAFKA_BOOTSTRAP_SERVERS=stack.bootstrap_servers, DATABASE_URL=f"postgresql://u:{PASSWORD}@{postgres}/x"
    )
    assert_one_line_about(run("streaming", env), postgres_message(postgres, "DATABASE_URL"))


@pytest.mark.parametrize("variable", ["DATABASE_URL", "WEB_DATABASE_URL"])
def test_the_webapp_without_postgres(variable):
    postgres = f"127.0.0.1:{free_port()}"
    env = environment(**{variable: f"postgresql://u:{PASSWORD}@{postgres}/x"})
    if variable == "WEB_DATABASE_URL":
        env["DATABASE_URL"] = f"postgresql://u:{PASSWORD}@127.0.0.1:{free_port()}/x"
    assert_one_line_about(run("webapp", env, "--port", str(free_port())), postgres_message(postgres, variable))
