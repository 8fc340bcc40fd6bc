"""`python -m bench.progress_probe OUT.jsonl [streaming flags]`: the streaming job unchanged, plus a
listener that writes every query progress (durationMs breakdown, state size) to OUT.jsonl."""

from __future__ import annotations

import sys
import threading

from pyspark.sql.streaming import StreamingQueryListener

from streaming.__main__ import main
from streaming.session import build_spark_session


class ProgressRecorder(StreamingQueryListener):
    """Appends each StreamingQueryProgress as one JSON line."""

    def __init__(self, path: str):
        self._file = open(path, "a", encoding="utf-8")
        self._lock = threading.Lock()

    def onQueryStarted(self, event):
        pass

    def onQueryProgress(self, event):
        with self._lock:
            self._file.write(event.progress.json.replace("\n", " ") + "\n")
            self._file.flush()

    def onQueryTerminated(self, event):
        pass


def run(argv: list[str]) -> int:
    """Start the session with the recorder attached, then run the job's own main on it."""
    out, *job_args = argv
    build_spark_session().streams.addListener(ProgressRecorder(out))
    return main(job_args)  # getOrCreate() in main() returns the session built here


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
