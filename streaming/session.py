"""The Spark session of the job: local by default, unchanged under spark-submit on a cluster."""

from __future__ import annotations

import os
import time

from pyspark.sql import SparkSession

from common.settings import REPO_ROOT

CONNECTOR_JARS_DIR = REPO_ROOT / "var" / "jars" / "spark"
DEDUPE_JARS_DIR = REPO_ROOT / "var" / "jars" / "dedupe"  # the job's de-duplication operator (jvm/dedupe)
ROCKSDB_PROVIDER = "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider"
# The driver JVM's heap when the job starts it. The state lives in RocksDB, off the heap, and Spark
# spills what does not fit; left to the JVM's default (a quarter of the machine's memory), the heap
# grew to fill a 2,000,000-event batch: 1.6 GiB resident against 1.3 GiB with this cap, at the same speed.
DRIVER_MEMORY = "768m"


def use_utc() -> None:
    """Run this process in UTC: collect() renders timestamps in the process's local zone."""
    os.environ["TZ"] = "UTC"
    time.tzset()


def job_jars() -> list[str]:
    """Spark's Kafka source and its dependencies, and the job's de-duplication operator, as `make setup`
    resolves and builds them."""
    jars = []
    for folder, what in ((CONNECTOR_JARS_DIR, "Kafka connector"), (DEDUPE_JARS_DIR, "de-duplication operator")):
        found = sorted(str(p) for p in folder.glob("*.jar"))
        if not found:
            raise RuntimeError(f"no {what} jar in {folder}: run `make setup` first")
        jars += found
    return jars


def build_spark_session(app_name: str = "stock-aggregates") -> SparkSession:
    """A session with UTC time, few shuffle partitions and the RocksDB state store."""
    use_utc()
    builder = (
        SparkSession.builder.appName(app_name)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
        .config("spark.sql.ansi.enabled", "true")
        # 200 shuffle partitions would make every micro-batch pay for 200 tiny tasks; the value
        # is fixed in the checkpoint at the first start.
        .config("spark.sql.shuffle.partitions", str(os.cpu_count() or 2))
        .config("spark.sql.streaming.stateStore.providerClass", ROCKSDB_PROVIDER)
        # Commit only the changes of each batch instead of a full RocksDB snapshot.
        .config("spark.sql.streaming.stateStore.rocksdb.changelogCheckpointing.enabled", "true")
        # The FileContext-based default asks each checkpoint file's link status, which Hadoop's local file
        # system answers by running `readlink`: ~50 processes forked per batch, ~0.7 s of a live batch.
        .config(
            "spark.sql.streaming.checkpointFileManagerClass",
            "org.apache.spark.sql.execution.streaming.checkpointing.FileSystemBasedCheckpointFileManager",
        )
        # A batch without data only evicts expired ids from the state, which the next batch does anyway.
        .config("spark.sql.streaming.noDataMicroBatches.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.adaptive.enabled", "false")  # not used by streaming queries
    )
    # Under spark-submit, the master and the jars (--packages / --jars) come from the command line.
    if "PYSPARK_GATEWAY_PORT" not in os.environ:
        builder = (
            builder.master(os.environ.get("SPARK_MASTER", "local[*]"))
            .config("spark.jars", ",".join(job_jars()))
            .config("spark.driver.memory", DRIVER_MEMORY)
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.driver.host", "127.0.0.1")
        )
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    # Under a sub-second trigger a busy batch often outlasts the interval, and the next starts at once:
    # Spark would warn about each such batch; the job's own batch line gives its duration and lag.
    jvm = spark.sparkContext._jvm
    if jvm is not None:  # always, in a classic session like this one
        jvm.org.apache.logging.log4j.core.config.Configurator.setLevel(
            "org.apache.spark.sql.execution.streaming.runtime.ProcessingTimeExecutor",
            jvm.org.apache.logging.log4j.Level.ERROR,
        )
    return spark
