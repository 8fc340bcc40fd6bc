"""A Postgres cluster of the project's own (initdb / pg_ctl), with the role and database of DATABASE_URL."""

from __future__ import annotations

import glob
import hashlib
import logging
import os
import pwd
import shutil
import subprocess
from pathlib import Path
from urllib.parse import unquote, urlsplit

import psycopg2
from psycopg2 import sql

from devstack.process import StackError, port_accepts

log = logging.getLogger(__name__)


def find_pg_bin() -> Path:
    """The folder of the newest installed Postgres server binaries."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    raise StackError("no Postgres server found: run `make setup` (installs Debian's postgresql)")


def parse_database_url(url: str) -> dict:
    """host, port, user, password and database of a postgresql:// URL."""
    parts = urlsplit(url)
    database = unquote(parts.path.lstrip("/"))
    if not (parts.hostname and parts.username and database):
        raise StackError("DATABASE_URL needs a host, a user and a database name")
    return {
        "host": parts.hostname,
        "port": parts.port or 5432,
        "user": unquote(parts.username),
        "password": unquote(parts.password or ""),
        "dbname": database,
    }


def outside_dir(state_dir: Path) -> Path:
    """The folder, in the postgres user's home, that holds the cluster of `state_dir` when the postgres
    user cannot reach `state_dir`: one per resolved path (so per repository and port)."""
    resolved = state_dir.resolve()
    digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:12]
    return Path(_postgres_user().pw_dir) / "stock-pipeline" / f"{resolved.name}-{digest}"


def locate_cluster(state_dir: Path) -> Path:
    """Where the cluster of `state_dir` lives: `state_dir` itself, or, when we are root and the postgres
    user cannot reach it (a clone in /root or in any mode-700 folder), `outside_dir(state_dir)`.
    An existing cluster stays where it is, so stop and a later start find the same folder."""
    if os.geteuid() != 0 or _has_cluster(state_dir):
        return state_dir
    outside = outside_dir(state_dir)
    if _has_cluster(outside) or not _postgres_can_enter(state_dir):
        return outside
    return state_dir


def _has_cluster(folder: Path) -> bool:
    return (folder / "data" / "PG_VERSION").exists()


def _postgres_can_enter(folder: Path) -> bool:
    # The nearest folder that exists already: the missing ones are created by us, world-executable.
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    result = subprocess.run(
        ["runuser", "-u", "postgres", "--", "test", "-x", str(existing)],
        capture_output=True,
        stdin=subprocess.DEVNULL,
    )
    return result.returncode == 0


def _postgres_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise StackError("no `postgres` system user: run `make setup` (installs Debian's postgresql)") from None


class PostgresServer:
    """A cluster for `state_dir`, serving the database of `database_url`; start/stop are idempotent."""

    def __init__(self, database_url: str, state_dir: Path):
        self.target = parse_database_url(database_url)
        self.state_dir = state_dir
        self._cluster_dir: Path | None = None

    @property
    def address(self) -> str:
        return f"{self.target['host']}:{self.target['port']}"

    @property
    def cluster_dir(self) -> Path:
        """The folder of the data, socket and log: found on first use (see `locate_cluster`)."""
        if self._cluster_dir is None:
            self._cluster_dir = locate_cluster(self.state_dir)
        return self._cluster_dir

    @property
    def data_dir(self) -> Path:
        return self.cluster_dir / "data"

    @property
    def socket_dir(self) -> Path:
        return self.cluster_dir / "run"

    @property
    def log_file(self) -> Path:
        return self.cluster_dir / "postgres.log"

    def is_up(self) -> bool:
        """True when the server port accepts connections."""
        return port_accepts(self.target["host"], self.target["port"])

    def start(self) -> bool:
        """Create and start the cluster unless it is up; ensure role, database; True when started here."""
        started = False
        if not self.is_up():
            self._init_cluster()
            self._pg_ctl(
                "start",
                "-w",
                "-t",
                "60",
                "-l",
                str(self.log_file),
                "-o",
                f"-p {self.target['port']} -k {self.socket_dir} -c listen_addresses={self.target['host']}",
            )
            started = True
        if self.socket_dir.exists():
            self._ensure_role_and_database()
        return started

    def stop(self) -> bool:
        """Stop the cluster of this folder; True when it was running."""
        if not (self.data_dir / "postmaster.pid").exists():
            return False
        self._pg_ctl("stop", "-w", "-m", "fast")
        return True

    def remove(self) -> None:
        """Delete the cluster's folders (the server must be stopped), the one outside `state_dir` too."""
        shutil.rmtree(self.cluster_dir, ignore_errors=True)
        shutil.rmtree(self.state_dir, ignore_errors=True)

    def _run_as_owner(self, args: list[str]) -> subprocess.CompletedProcess:
        # initdb and postgres refuse to run as root: run them as the `postgres` system user.
        if os.geteuid() == 0:
            args = ["runuser", "-u", "postgres", "--", *args]
        return subprocess.run(args, capture_output=True, text=True, stdin=subprocess.DEVNULL)

    def _pg_ctl(self, *args: str) -> None:
        result = self._run_as_owner([str(find_pg_bin() / "pg_ctl"), "-D", str(self.data_dir), *args])
        if result.returncode != 0:
            raise StackError(f"pg_ctl {args[0]} failed: {result.stdout}{result.stderr} (log: {self.log_file})")

    def _init_cluster(self) -> None:
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            owner = _postgres_user()
            folders = [self.cluster_dir, self.socket_dir]
            if self.cluster_dir != self.state_dir:
                folders.insert(0, self.cluster_dir.parent)  # stock-pipeline/ in the postgres user's home
            for path in folders:
                os.chown(path, owner.pw_uid, owner.pw_gid)
            self._check_reachable_by_postgres()
        if (self.data_dir / "PG_VERSION").exists():
            return
        log.info("creating a Postgres cluster in %s", self.data_dir)
        result = self._run_as_owner(
            [
                str(find_pg_bin() / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-locale",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
            ]
        )
        if result.returncode != 0:
            raise StackError(f"initdb failed: {result.stdout}{result.stderr}")

    def _check_reachable_by_postgres(self) -> None:
        result = self._run_as_owner(["test", "-w", str(self.cluster_dir)])
        if result.returncode != 0:
            raise StackError(
                f"the postgres user cannot reach {self.cluster_dir}: "
                "every parent folder must be world-executable (chmod o+x)"
            )

    def ensure_reader(self, reader_url: str) -> str | None:
        """Create (or update the password of) the login role of `reader_url`; its name, or None when
        `reader_url` is not a separate role on this server of ours."""
        reader = parse_database_url(reader_url)
        same_database = (reader["host"], reader["port"], reader["dbname"]) == (
            self.target["host"],
            self.target["port"],
            self.target["dbname"],
        )
        if not same_database or reader["user"] == self.target["user"] or not self.socket_dir.exists():
            return None
        admin = self._admin_connection()
        try:
            with admin.cursor() as cur:
                _ensure_login_role(cur, reader["user"], reader["password"])
        finally:
            admin.close()
        return reader["user"]

    def _admin_connection(self):
        # The local socket trusts the superuser, so no password is needed.
        admin = psycopg2.connect(
            host=str(self.socket_dir), port=self.target["port"], user="postgres", dbname="postgres"
        )
        admin.autocommit = True
        return admin

    def _ensure_role_and_database(self) -> None:
        admin = self._admin_connection()
        user, dbname = self.target["user"], self.target["dbname"]
        try:
            with admin.cursor() as cur:
                _ensure_login_role(cur, user, self.target["password"], "CREATEDB")
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,))
                if cur.fetchone() is None:
                    cur.execute(
                        sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(dbname), sql.Identifier(user))
                    )
        finally:
            admin.close()


def _ensure_login_role(cursor, user: str, password: str, *options: str) -> None:
    """Create the login role `user` with `password` (and `options`), or set them when it exists."""
    cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (user,))
    verb = "ALTER" if cursor.fetchone() else "CREATE"
    cursor.execute(
        sql.SQL("{} ROLE {} LOGIN {} PASSWORD {}").format(
            sql.SQL(verb), sql.Identifier(user), sql.SQL(" ".join(options)), sql.Literal(password)
        )
    )
