import re
import shutil
import subprocess

import pytest

from devstack.schema import schema_files


def compose_command() -> list[str]:
    """`docker compose` when the plugin is there, else Debian's docker-compose (make setup installs it)."""
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    pytest.fail("neither `docker compose` nor docker-compose is installed: run make setup")


def test_compose_file_is_valid(repo_root):
    result = subprocess.run([*compose_command(), "config", "-q"], cwd=repo_root, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_compose_mounts_every_schema_file(repo_root):
    compose = (repo_root / "docker-compose.yml").read_text()
    mounted = re.findall(r"\./sql/(\S+?\.sql):/docker-entrypoint-initdb\.d/", compose)
    assert mounted == [p.name for p in schema_files()]
