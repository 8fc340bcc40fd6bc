"""The streaming job unchanged on a standalone Spark cluster: a master and a worker started from pyspark's
own jars (`spark-class`), the job submitted with `spark-submit --master spark://…` as the README says."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from common.settings import REPO_ROOT
from devstack.process import free_port, wait_until
from reference.aggregates import assert_rows_match, reference_aggregates, table_rows
from streaming.session import job_jars
from tests.faults import kill_9, start_command
from tests.helpers import publish, trades

BIN = Path(sys.executable).parent  # pyspark puts spark-class and spark-submit beside the virtualenv's python


def activated(env: dict) -> dict:
    """`env` as after `source .venv/bin/activate`: Spark's scripts find pyspark's jars through `python3`."""
    return {**env, "PATH": f"{BIN}:{env.get('PATH', '')}", "PYSPARK_PYTHON": sys.executable}


@pytest.fixture
def spark_cluster(tmp_path):
    """A standalone master and one worker (2 cores, 2 GiB) on loopback; its master URL."""
    port = free_port()
    url = f"spark://127.0.0.1:{port}"
    master_log, worker_log = tmp_path / "master.log", tmp_path / "worker.log"
    master = start_command(
        [
            BIN / "spark-class",
            "org.apache.spark.deploy.master.Master",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--webui-port",
            str(free_port()),
        ],
        activated(dict(os.environ)),
        master_log,
    )
    worker = start_command(
        [
            BIN / "spark-class",
            "org.apache.spark.deploy.worker.Worker",
            url,
            "--host",
            "127.0.0.1",
            "--cores",
            "2",
            "--memory",
            "2g",
            "--work-dir",
            str(tmp_path / "work"),
            "--webui-port",
            str(free_port()),
        ],
        activated(dict(os.environ)),
        worker_log,
    )
    try:
        wait_until(
            lambda: "Successfully registered with master" in worker_log.read_text(),
            120,
            "the worker registered with the master",
            alive=lambda: worker.poll() is None,
        )
        yield url, master_log
    finally:
        kill_9(worker)
        kill_9(master)


def test_spark_submit_on_a_standalone_cluster_gives_the_reference_table(
    stack, db, topic_factory, pipeline_env, tmp_path, spark_cluster
):
    url, master_log = spark_cluster
    topic = topic_factory("cluster")
    events = trades(3000, seed=11)
    publish(stack.bootstrap_servers, topic, events)
    deps = tmp_path / "deps.zip"
    subprocess.run(["zip", "-qr", str(deps), "common", "streaming"], cwd=REPO_ROOT, check=True)
    jars = ",".join(job_jars())  # what the job hands Spark itself when it starts its own JVM
    env = activated(pipeline_env(topic))
    result = subprocess.run(
        [
            BIN / "spark-submit",
            "--master",
            url,
            "--conf",
            "spark.driver.host=127.0.0.1",
            "--jars",
            jars,
            "--py-files",
            str(deps),
            "streaming/__main__.py",
            "--available-now",
            "--watermark",
            "1 hour",
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = result.stdout + result.stderr  # under spark-submit the job's log goes to stdout
    assert result.returncode == 0, output[-4000:]
    assert "aggregates batch 0: 3150 rows in" in output and "INFO streaming: stopped" in output
    assert "Registering app stock-aggregates" in master_log.read_text()  # it ran on this cluster, not locally
    assert "Launching executor" in master_log.read_text()
    assert_rows_match(table_rows(db), reference_aggregates(events, [60, 300]))
