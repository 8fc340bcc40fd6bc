"""Secrets stay out of the repository: .env is ignored, .env.example holds no real secret."""

import subprocess

from dotenv import dotenv_values

# The local stack's development passwords, documented in .env.example and the README.
LOCAL_DEV_PASSWORDS = {"stocks", "stocks_reader"}


def test_dot_env_is_git_ignored(repo_root):
    result = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=repo_root)
    assert result.returncode == 0, ".env must be listed in .gitignore"


def test_env_example_has_no_api_key_and_only_local_dev_passwords(repo_root):
    values = dotenv_values(repo_root / ".env.example")
    assert values["FINNHUB_API_KEY"] == ""
    for name in ("DATABASE_URL", "WEB_DATABASE_URL"):
        password = values[name].split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
        assert password in LOCAL_DEV_PASSWORDS, f"{name} carries a password that is not a local default"
        assert "@localhost:" in values[name]
