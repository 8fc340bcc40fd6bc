"""What the figures were measured on: cores, memory, load, and the versions that matter."""

from __future__ import annotations

import os
import platform
import re
import socket
import subprocess
from importlib import metadata

import psutil

from devstack.kafka import KAFKA_JARS_DIR
from devstack.postgres import find_pg_bin

PACKAGES = ("pyspark", "kafka-python", "confluent-kafka", "psycopg2-binary", "Flask", "granian")


def _command_version(args: list[str]) -> str:
    try:
        result = subprocess.run(args, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "missing"
    return (result.stdout + result.stderr).strip().splitlines()[0] if (result.stdout + result.stderr) else "?"


def kafka_version() -> str:
    """The broker version, from the name of its jar."""
    for jar in KAFKA_JARS_DIR.glob("kafka_2.13-*.jar"):
        match = re.match(r"kafka_2\.13-([\d.]+)\.jar$", jar.name)
        if match:
            return match.group(1)
    return "?"


def describe_machine() -> dict:
    """Cores, memory, load average and versions of this machine and the pipeline's parts."""
    return {
        "host": socket.gethostname(),
        "cpu_cores": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "java": _command_version(["java", "-version"]),
        "postgres": _command_version([str(find_pg_bin() / "postgres"), "--version"]),
        "kafka": kafka_version(),
        "wrk": _command_version(["wrk", "--version"]),
        "packages": {name: _package_version(name) for name in PACKAGES},
    }


def _package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "missing"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"
