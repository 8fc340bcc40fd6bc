"""Apache Kafka in KRaft mode, one node or a cluster of combined broker+controller nodes, started
with `java` from the Maven-resolved jars."""

from __future__ import annotations

import base64
import logging
import os
import signal
import subprocess
import uuid
from pathlib import Path

from common.settings import REPO_ROOT
from common.topics import replication_for
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


def node_ports(base_port: int, node_id: int) -> tuple[int, int]:
    """(client port, controller port) of node `node_id` (1-based): consecutive pairs from `base_port`."""
    port = base_port + 2 * (node_id - 1)
    return port, port + 1


def broker_properties(host: str, base_port: int, node_id: int, cluster_size: int, data_dir: Path) -> str:
    """server.properties of one combined broker+controller node of a `cluster_size`-node cluster."""
    port, controller_port = node_ports(base_port, node_id)
    voters = ",".join(f"{n}@{host}:{node_ports(base_port, n)[1]}" for n in range(1, cluster_size + 1))
    # Internal topics survive the loss of one node once there are three.
    replication, min_isr = replication_for(cluster_size)
    return "\n".join(
        [
            "process.roles=broker,controller",
            f"node.id={node_id}",
            f"controller.quorum.voters={voters}",
            f"listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller_port}",
            f"advertised.listeners=PLAINTEXT://{host}:{port}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            f"log.dirs={data_dir}",
            "num.partitions=3",
            f"default.replication.factor={replication}",
            f"min.insync.replicas={min_isr}",
            f"offsets.topic.replication.factor={replication}",
            f"transaction.state.log.replication.factor={replication}",
            f"transaction.state.log.min.isr={min_isr}",
            f"share.coordinator.state.topic.replication.factor={replication}",
            f"share.coordinator.state.topic.min.isr={min_isr}",
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
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        # One in 64 starts with '-', which kafka-storage's command line takes for an option (Kafka's own
        # Uuid.randomUuid draws again in that case too).
        if not cluster_id.startswith("-"):
            return cluster_id


class KafkaBroker:
    """One node with its config, data and logs under `state_dir`; start/stop are idempotent.
    Node `node_id` of a `cluster_size`-node cluster listens on the ports `node_ports` gives it."""

    def __init__(
        self,
        bootstrap_servers: str,
        state_dir: Path,
        jars_dir: Path,
        node_id: int = 1,
        cluster_size: int = 1,
        cluster_id: str | None = None,
    ):
        self.host, self.base_port = parse_bootstrap(bootstrap_servers)
        self.node_id = node_id
        self.cluster_size = cluster_size
        self.cluster_id = cluster_id
        self.port, self.controller_port = node_ports(self.base_port, node_id)
        self.state_dir = state_dir
        self.jars_dir = jars_dir
        self.config_file = state_dir / "server.properties"
        self.log_file = state_dir / "server.log"
        self.pid_file = state_dir / "kafka.pid"
        self._process: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def is_up(self) -> bool:
        """True when the broker port accepts connections."""
        return port_accepts(self.host, self.port)

    def start(self, timeout: float = 90.0) -> bool:
        """Start the broker unless it is already up; True when this call started it."""
        launched = self.launch()
        self.wait_up(timeout)
        return launched

    def launch(self) -> bool:
        """Start the node's process without waiting for it (a cluster's nodes need each other to
        come up); False when it is already up."""
        if self.is_up():
            return False
        if not any(self.jars_dir.glob("kafka_2.13-*.jar")):
            raise StackError(f"no Kafka jars in {self.jars_dir}: run `make setup` first")
        if port_accepts(self.host, self.controller_port):
            raise StackError(f"port {self.controller_port} (Kafka controller) is taken by another program")
        self._write_config()
        self._format_storage()
        stdout = open(self.state_dir / "stdout.log", "ab")  # noqa: SIM115 - the broker writes it while it runs
        self._process = subprocess.Popen(
            self._java("kafka.Kafka", str(self.config_file)),
            stdout=stdout,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.pid_file.write_text(str(self._process.pid))
        return True

    def wait_up(self, timeout: float = 90.0) -> None:
        """Wait until the node accepts connections; fail early when the process launched here exits."""
        process = self._process
        stdout_log = self.state_dir / "stdout.log"
        try:
            wait_until(
                self.is_up,
                timeout,
                f"Kafka at {self.address} (see {stdout_log})",
                alive=None if process is None else lambda: process.poll() is None,
            )
        except StackError as exc:
            last_lines = stdout_log.read_text(errors="replace").splitlines()[-15:] if stdout_log.exists() else []
            raise StackError("\n".join([str(exc), *last_lines])) from None

    def kill(self) -> bool:
        """SIGKILL the node (a crash, for fault tests); True when one was running."""
        pid = read_pid(self.pid_file)
        if pid is None:
            return False
        os.kill(pid, signal.SIGKILL)
        if self._process is not None and self._process.pid == pid:
            self._process.wait(timeout=30)  # reaped, so it is gone rather than a zombie
        self.pid_file.unlink(missing_ok=True)
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
            broker_properties(self.host, self.base_port, self.node_id, self.cluster_size, data_dir)
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
                self.cluster_id or new_cluster_id(),
                "--config",
                str(self.config_file),
            ),
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise StackError(f"formatting Kafka storage failed: {result.stdout}{result.stderr}")


class KafkaCluster:
    """`size` KafkaBroker nodes forming one KRaft cluster (each node also a controller voter), the
    first at the port of `bootstrap_servers`; one node keeps the single-node layout of `state_dir`."""

    def __init__(self, bootstrap_servers: str, state_dir: Path, jars_dir: Path, size: int = 1):
        if size == 1:
            self.nodes = [KafkaBroker(bootstrap_servers, state_dir, jars_dir)]
            return
        cluster_id = _stored_cluster_id(state_dir / "cluster.id")
        self.nodes = [
            KafkaBroker(bootstrap_servers, state_dir / f"node-{n}", jars_dir, n, size, cluster_id)
            for n in range(1, size + 1)
        ]

    @property
    def bootstrap_servers(self) -> str:
        """Every node's address, so clients reach the cluster while any node is down."""
        return ",".join(node.address for node in self.nodes)

    @property
    def log_files(self) -> str:
        return ", ".join(str(node.log_file) for node in self.nodes)

    def is_up(self) -> bool:
        """True when every node accepts connections."""
        return all(node.is_up() for node in self.nodes)

    def start(self, timeout: float = 120.0) -> bool:
        """Start the nodes that are down and wait for all; True when this call started any."""
        launched = [node.launch() for node in self.nodes]
        for node in self.nodes:
            node.wait_up(timeout)
        return any(launched)

    def stop(self) -> bool:
        """Stop every node started from this folder; True when any was running."""
        return any(node.stop() for node in self.nodes)


def _stored_cluster_id(path: Path) -> str:
    """The cluster id kept in `path`, created on first use: every node is formatted with it."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(new_cluster_id())
    return path.read_text().strip()
