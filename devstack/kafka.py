"""A single-node Apache Kafka broker in KRaft mode, started with `java` from the Maven-resolved jars."""

from __future__ import annotations

import base64
import logging
import subprocess
import uuid
from pathlib import Path

from common.settings import REPO_ROOT
from devstack.process import StackError, port_accepts, read_pid, terminate, wait_until

log = logging.getLogger(__name__)

HEAP = "-Xmx512m"
KAFKA_JARS_DIR = REPO_ROOT / "var" / "jars" / "kafka"


def parse_bootstrap(bootstrap_servers: str) -> tuple[str, int]:
    """The first host:port of a broker list."""
    first = bootstrap_servers.split(",")[0].strip()
    host, _, port = first.rpartition(":")
    if not host or not port.isdigit():
        raise StackError(f"KAFKA_BOOTSTRAP_SERVERS: expected host:port, got {first!r}")
    return host, int(port)


def broker_properties(host: str, port: int, controller_port: int, data_dir: Path) -> str:
    """server.properties of a combined broker+controller node."""
    return "\n".join(
        [
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.voters=1@{host}:{controller_port}",
            f"listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller_port}",
            f"advertised.listeners=PLAINTEXT://{host}:{port}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            f"log.dirs={data_dir}",
            "num.partitions=3",
            "offsets.topic.replication.factor=1",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            "group.initial.rebalance.delay.ms=0",
            "",
        ]
    )


def log4j_properties(log_file: Path) -> str:
    """log4j2 configuration writing the broker's log to one file."""
    return "\n".join(
        [
            "appender.file.type = File",
            "appender.file.name = file",
            f"appender.file.fileName = {log_file}",
            "appender.file.layout.type = PatternLayout",
            "appender.file.layout.pattern = [%d] %p %m (%c)%n",
            "rootLogger.level = INFO",
            "rootLogger.appenderRef.file.ref = file",
            "logger.kafka.name = kafka",
            "logger.kafka.level = WARN",
            "logger.kafka_state.name = state.change.logger",
            "logger.kafka_state.level = WARN",
            "",
        ]
    )


def new_cluster_id() -> str:
    """A KRaft cluster id: a random UUID in Kafka's URL-safe base64 form."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


class KafkaBroker:
    """One broker with its config, data and logs under `state_dir`; start/stop are idempotent."""

    def __init__(self, bootstrap_servers: str, state_dir: Path, jars_dir: Path):
        self.host, self.port = parse_bootstrap(bootstrap_servers)
        self.controller_port = self.port + 1
        self.state_dir = state_dir
        self.jars_dir = jars_dir
        self.config_file = state_dir / "server.properties"
        self.log_file = state_dir / "server.log"
        self.pid_file = state_dir / "kafka.pid"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def is_up(self) -> bool:
        """True when the broker port accepts connections."""
        return port_accepts(self.host, self.port)

    def start(self, timeout: float = 90.0) -> bool:
        """Start the broker unless it is already up; True when this call started it."""
        if self.is_up():
            return False
        if not any(self.jars_dir.glob("kafka_2.13-*.jar")):
            raise StackError(f"no Kafka jars in {self.jars_dir}: run `make setup` first")
        if port_accepts(self.host, self.controller_port):
            raise StackError(f"port {self.controller_port} (Kafka controller) is taken by another program")
        self._write_config()
        self._format_storage()
        stdout = open(self.state_dir / "stdout.log", "ab")
        process = subprocess.Popen(
            self._java("kafka.Kafka", str(self.config_file)),
            stdout=stdout,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.pid_file.write_text(str(process.pid))
        wait_until(
            self.is_up,
            timeout,
            f"Kafka at {self.address} (see {self.state_dir / 'stdout.log'})",
            alive=lambda: process.poll() is None,
        )
        return True

    def stop(self) -> bool:
        """Stop the broker started from this folder; True when one was running."""
        pid = read_pid(self.pid_file)
        if pid is None:
            return False
        terminate(pid)
        self.pid_file.unlink(missing_ok=True)
        return True

    def _java(self, main_class: str, *args: str) -> list[str]:
        return [
            "java",
            HEAP,
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.state_dir / 'log4j2.properties'}",
            "-cp",
            str(self.jars_dir / "*"),
            main_class,
            *args,
        ]

    def _write_config(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        data_dir = self.state_dir / "data"
        self.config_file.write_text(
            broker_properties(self.host, self.port, self.controller_port, data_dir)
        )
        (self.state_dir / "log4j2.properties").write_text(log4j_properties(self.log_file))

    def _format_storage(self) -> None:
        if (self.state_dir / "data" / "meta.properties").exists():
            return
        log.info("formatting Kafka storage in %s", self.state_dir / "data")
        result = subprocess.run(
            self._java(
                "kafka.tools.StorageTool",
                "format",
                "--cluster-id",
                new_cluster_id(),
                "--config",
                str(self.config_file),
            ),
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise StackError(f"formatting Kafka storage failed: {result.stdout}{result.stderr}")
