"""The streaming job as it was before the one-pass rewrite (three queries: one per window size, plus
the rejects), taken from the repository's history, so `make bench` measures both in the same run."""

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


def extract_three_query_job(into: Path) -> Path | None:
    """The three-query job's tree under `into` (its Spark jars are this checkout's), or None with a
    log line when the history is not there (a tarball, a shallow clone)."""
    try:
        archive = subprocess.run(["git", "archive", "--format=tar", THREE_QUERY_REVISION, *THREE_QUERY_PATHS],
                                 cwd=REPO_ROOT, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        reason = exc.stderr.decode(errors="replace").strip() if isinstance(exc, subprocess.CalledProcessError) else exc
        log.warning("the three-query job is not measured: commit %s is not in this checkout (%s)",
                    THREE_QUERY_REVISION[:7], reason)
        return None
    tree = into / "three-query-job"
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(tree, filter="data")
    (tree / "var").mkdir()
    (tree / "var" / "jars").symlink_to(REPO_ROOT / "var" / "jars")  # it finds its connector jars there
    return tree
