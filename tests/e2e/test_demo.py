"""`make demo`'s supervisor: a child that dies is reported in one line and restarted, and rows flow again."""

import os
import re
import signal
import subprocess
import sys
import threading

from common.settings import REPO_ROOT
from devstack.process import free_port, wait_until


class Output:
    """The lines a process prints, collected by a thread as they come."""

    def __init__(self, stream):
        self.lines: list[str] = []
        threading.Thread(target=self._collect, args=(stream,), daemon=True).start()

    def _collect(self, stream):
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    def pids(self, name: str) -> list[int]:
        """The pids of every start of the child `name`, in order."""
        return [
            int(m.group(1)) for line in list(self.lines) if (m := re.search(rf"\] {name} started \(pid (\d+)\)", line))
        ]

    def text(self) -> str:
        return "\n".join(self.lines)


def start_demo(env) -> tuple[subprocess.Popen, Output]:
    """`python -m devstack demo` on the test servers (its page on a free port), and its output."""
    demo = subprocess.Popen(
        [sys.executable, "-m", "devstack", "demo", "--web-port", str(free_port())],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    return demo, Output(demo.stdout)


def newest_batch(db):
    with db.cursor() as cursor:
        cursor.execute("SELECT max(committed_at), now() FROM streaming_batches WHERE query_name = 'aggregates'")
        return cursor.fetchone()


def test_a_killed_streaming_job_is_restarted_and_rows_flow_again(stack, db, pipeline_env, topic_factory):
    env = pipeline_env(topic_factory("demo"), PYTHONUNBUFFERED="1")
    demo, output = start_demo(env)
    alive = lambda: demo.poll() is None  # noqa: E731
    try:
        wait_until(lambda: newest_batch(db)[0] is not None, 180, "the demo's first aggregates", alive=alive)
        first_pid = output.pids("streaming")[0]
        os.killpg(first_pid, signal.SIGKILL)  # the job's driver and its JVM, as an OOM kill would
        _, killed_at = newest_batch(db)

        wait_until(lambda: len(output.pids("streaming")) == 2, 60, "the streaming job restarted", alive=alive)
        wait_until(lambda: newest_batch(db)[0] > killed_at, 180, "a batch written after the kill", alive=alive)
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            code = demo.wait(timeout=120)
        finally:
            if demo.poll() is None:
                os.killpg(demo.pid, signal.SIGKILL)
    text = output.text()
    assert code == 0, text
    assert output.pids("streaming")[1] != first_pid
    assert len(re.findall(r"streaming exited with code -9 \(.*\); restarting in 1 s \(restart 1 of 5\)", text)) == 1, (
        text
    )
    assert "producer exited" not in text and "webapp exited" not in text, text
    assert "Traceback" not in text, text


def gone(pid: int) -> bool:
    """True when the process has exited (a zombie waiting for its reaper counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_a_second_ctrl_c_kills_the_demo_at_once(stack, pipeline_env, topic_factory):
    env = pipeline_env(topic_factory("demo"), PYTHONUNBUFFERED="1")
    demo, output = start_demo(env)
    try:
        # Once the job's queries run, its orderly stop takes a while (the batch in flight, Spark's shutdown).
        wait_until(
            lambda: "query aggregates started" in output.text(),
            120,
            "the streaming job running",
            alive=lambda: demo.poll() is None,
        )
        children = [output.pids(name)[0] for name in ("producer", "streaming", "webapp")]
        demo.send_signal(signal.SIGINT)
        wait_until(lambda: "stopping the demo" in output.text(), 10, "the demo stopping")
        demo.send_signal(signal.SIGINT)
        code = demo.wait(timeout=10)
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
    assert code == 130, output.text()
    assert "second signal: exiting now" in output.text()
    wait_until(lambda: all(gone(pid) for pid in children), 10, "every child gone")
