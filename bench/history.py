"""Earlier versions of the pipeline, taken from the repository's history, so `make bench` measures
them beside today's code in the same run: the streaming job before the one-pass rewrite (three
queries: one per window size, plus the rejects) and the webapp before shared answers (its page made
seven requests per poll, each a query)."""

from __future__ import annotations

import io
import logging
import subprocess
import tarfile
from pathlib import Path

from common.settings import REPO_ROOT

log = logging.getLogger(__name__)

# The last commit of main with the three-query job (the one-pass job was merged on top of it).
THREE_QUERY_REVISION = "cb54900e3f17d5fedb4974a10e0245124160aaf4"
# What that job needs from its own tree: its code, and the probe that records its query progress.
THREE_QUERY_PATHS = ("streaming", "common", "bench/__init__.py", "bench/progress_probe.py")
# The last commit of main whose webapp answered every request with its own queries.
SEVEN_REQUEST_WEBAPP_REVISION = "dac7a169bbb56b1eacee7b3d0ff49f74a228f171"
SEVEN_REQUEST_WEBAPP_PATHS = ("webapp", "common")


def extract(revision: str, paths: tuple[str, ...], into: Path) -> Path | None:
    """`paths` of `revision` under `into`, or None with a log line when the history is not there (a
    tarball, a shallow clone)."""
    try:
        archive = subprocess.run(
            ["git", "archive", "--format=tar", revision, *paths], cwd=REPO_ROOT, capture_output=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        reason = exc.stderr.decode(errors="replace").strip() if isinstance(exc, subprocess.CalledProcessError) else exc
        log.warning("commit %s is not in this checkout, so it is not measured (%s)", revision[:7], reason)
        return None
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def extract_three_query_job(into: Path) -> Path | None:
    """The three-query job's tree under `into` (its Spark jars are this checkout's)."""
    tree = extract(THREE_QUERY_REVISION, THREE_QUERY_PATHS, into / "three-query-job")
    if tree is not None:
        (tree / "var").mkdir()
        (tree / "var" / "jars").symlink_to(REPO_ROOT / "var" / "jars")  # it finds its connector jars there
    return tree


def extract_seven_request_webapp(into: Path) -> Path | None:
    """The webapp before shared answers and the snapshot endpoint, under `into` (its API only)."""
    return extract(SEVEN_REQUEST_WEBAPP_REVISION, SEVEN_REQUEST_WEBAPP_PATHS, into / "seven-request-webapp")
