"""Every bad value of every flag of the three processes is a usage error: exit 2, one error line naming
the flag after argparse's usage, no traceback. Each flag's first bad value goes through the real
`python -m ...`, with Kafka and Postgres pointed at free ports, so a value that slipped through would
exit 1 (no server), not 2; every bad value goes through the same parsers in this process."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from common.settings import DEFAULTS, REPO_ROOT, build_settings
from devstack.process import free_port
from producer.__main__ import build_source
from producer.__main__ import parse_args as parse_producer_args
from producer.finnhub_rest import FinnhubQuoteSource
from streaming.__main__ import parse_args as parse_streaming_args
from webapp.__main__ import parse_args as parse_webapp_args

PARSERS = {"producer": parse_producer_args, "streaming": parse_streaming_args, "webapp": parse_webapp_args}

BAD_VALUES = {
    "producer": {
        "--source": ["bogus"],
        "--symbols": ["", ",", "AAPL,no way!"],
        "--interval": ["x", "0", "-1", "nan", "inf"],
        "--cycles": ["0", "-3", "1.5", "x"],
        "--seed": ["x", "1.5"],
        "--rate": ["nan", "inf", "0", "-1", "x"],
        "--file": ["no-such-file.jsonl", "{folder}"],
        "--speed": ["nan", "inf", "-1", "x"],
        "--record": ["{folder}", "{folder}/missing/record.jsonl", ""],
    },
    "streaming": {
        "--windows": ["", ",", "1 minute,", "0 minutes", "5 parsecs", "500 milliseconds"],
        "--watermark": ["", "1 minute,2 minutes", "0 minutes", "5 parsecs", "500 milliseconds"],
        "--trigger": ["", "1 second,2 seconds", "-1 seconds", "5 parsecs"],
        "--max-offsets-per-trigger": ["0", "-3", "1.5", "x"],
    },
    "webapp": {
        "--host": ["", "a b", "x..y"],
        "--port": ["0", "70000", "-1", "x"],
        "--workers": ["0", "-2", "many"],
    },
}
CASES = [
    (module, flag, value) for module, values in BAD_VALUES.items() for flag, bad in values.items() for value in bad
]
FIRST_CASES = [(module, flag, bad[0]) for module, values in BAD_VALUES.items() for flag, bad in values.items()]


def assert_one_usage_error(module: str, flag: str, stderr: str) -> None:
    """argparse's usage (which may wrap), then one line: the error naming the flag; no traceback."""
    lines = stderr.splitlines()
    assert "Traceback" not in stderr
    assert lines[-1].startswith(f"python -m {module}: error: argument {flag}: "), stderr
    assert lines[0].startswith(f"usage: python -m {module}")
    assert [line for line in lines[1:-1] if not line.startswith(" ")] == [], stderr


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory) -> dict:
    """The first bad value of each flag through `python -m`, four at a time, as (exit code, stderr) by case."""
    folder = tmp_path_factory.mktemp("flags")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("KAFKA_", "DATABASE_", "WEB_"))}
    env.update(
        KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{free_port()}",
        DATABASE_URL=f"postgresql://stocks:stocks@127.0.0.1:{free_port()}/stocks",
        PYTHONPATH=str(REPO_ROOT),
    )

    def run(case):
        module, flag, value = case
        result = subprocess.run(
            [sys.executable, "-m", module, f"{flag}={value.format(folder=folder)}"],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
        return case, (result.returncode, result.stderr)

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(pool.map(run, FIRST_CASES))


@pytest.mark.parametrize("module, flag, value", FIRST_CASES)
def test_the_process_exits_2_on_a_bad_value(outcomes, module, flag, value):
    code, stderr = outcomes[(module, flag, value)]
    assert code == 2, stderr
    assert_one_usage_error(module, flag, stderr)


@pytest.mark.parametrize("module, flag, value", CASES)
def test_every_bad_value_is_one_usage_error_naming_the_flag(tmp_path, capsys, module, flag, value):
    with pytest.raises(SystemExit) as exited:
        PARSERS[module]([f"{flag}={value.format(folder=tmp_path)}"])
    assert exited.value.code == 2
    assert_one_usage_error(module, flag, capsys.readouterr().err)


def test_replay_without_a_file_is_a_usage_error():
    result = subprocess.run(
        [sys.executable, "-m", "producer", "--source", "replay"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == "python -m producer: error: --source replay needs --file"


def test_a_window_size_given_twice_counts_once_in_its_first_spelling():
    options = parse_streaming_args(["--windows", "1 minute,5 minutes,60 seconds,300 seconds,2 minutes"])
    assert options.windows == ("1 minute", "5 minutes", "2 minutes")


def test_the_limit_window_is_a_hidden_test_hook_that_reaches_the_limiter(capsys):
    """Tests shorten Finnhub's minute with --limit-window; users never see it, and by default it is 60 s."""
    settings = build_settings({**DEFAULTS, "FINNHUB_API_KEY": "k", "FINNHUB_MAX_CALLS_PER_MINUTE": "2"})
    with pytest.raises(SystemExit):
        parse_producer_args(["--help"])
    assert "limit-window" not in capsys.readouterr().out
    for argv, window in (([], 60.0), (["--limit-window", "4"], 4.0)):
        source = build_source(parse_producer_args(["--source", "finnhub", "--symbols", "AAPL", *argv]), settings)
        assert isinstance(source, FinnhubQuoteSource)
        source._limiter.begin(0.0)
        source._limiter.end(0.0)
        source._limiter.begin(0.0)
        source._limiter.end(0.0)
        assert source._limiter.delay(0.0) == window  # two calls fill the "minute": the third waits it out
