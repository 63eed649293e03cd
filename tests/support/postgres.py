"""A PostgreSQL server for the integration tests: the local one if it runs, else a throwaway one."""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

from tests.support.ports import free_port

LOCAL_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

_admin_url: str | None = None


def _check(url: str) -> None:
    with psycopg.connect(url, autocommit=True, connect_timeout=2) as conn:
        conn.execute("SELECT 1")


class PostgresCluster:
    """A throwaway cluster (trust auth, no fsync) in a temporary directory owned by `postgres`."""

    host = "127.0.0.1"

    def __init__(self) -> None:
        candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        if not candidates:
            raise RuntimeError("no /usr/lib/postgresql/*/bin/pg_ctl: install postgresql")
        self.bin_dir = Path(candidates[-1]).parent
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="mailpoll-postgres-"))
        self.data_dir = self.root / "data"
        self.log_file = self.root / "postgres.log"
        self.url = f"postgresql://postgres@{self.host}:{self.port}/postgres"
        self._started = False
        if os.geteuid() == 0:
            # initdb refuses to run as root: the cluster belongs to the postgres OS user.
            shutil.chown(self.root, "postgres", "postgres")

    def _run(self, *args: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        result = subprocess.run(
            [*prefix, *args], capture_output=True, text=True, check=False, cwd=self.root
        )
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed:\n{result.stdout}{result.stderr}")

    def start(self) -> None:
        self._run(
            str(self.bin_dir / "initdb"), "-D", str(self.data_dir), "-U", "postgres",
            "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions",
        )  # fmt: skip
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses={self.host}"
            " -c fsync=off -c full_page_writes=off -c synchronous_commit=off"
        )
        self._started = True
        self._run(
            str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_file),
            "-o", options, "-w", "-t", "30", "start",
        )  # fmt: skip

    def stop(self) -> None:
        if self._started:
            self._started = False
            self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir),
                      "-m", "immediate", "-w", "stop")  # fmt: skip

    def cleanup(self) -> None:
        """Stop the cluster and delete its directory."""
        try:
            self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, lines: int = 50) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(postgres wrote no log)"


def postgres_admin_url() -> str:
    """URL of a superuser connection: 127.0.0.1:5432 if it answers, else a throwaway cluster.

    The throwaway cluster is started once per process and stopped at exit.
    """
    global _admin_url
    if _admin_url is not None:
        return _admin_url
    try:
        _check(LOCAL_ADMIN_URL)
    except psycopg.Error as local_error:
        cluster: PostgresCluster | None = None
        try:
            cluster = PostgresCluster()
            cluster.start()
            _check(cluster.url)
        except (OSError, RuntimeError, psycopg.Error) as exc:
            tail = cluster.log_tail() if cluster is not None else ""
            if cluster is not None:
                cluster.cleanup()
            raise RuntimeError(
                f"PostgreSQL is not reachable at {LOCAL_ADMIN_URL} ({local_error}) and a "
                f"throwaway cluster cannot be started: {exc}\n{tail}"
            ) from exc
        atexit.register(cluster.cleanup)
        _admin_url = cluster.url
    else:
        _admin_url = LOCAL_ADMIN_URL
    return _admin_url


def fresh_database(admin_url: str) -> str:
    """Create an empty, uniquely named database and return its URL."""
    name = f"mailpoll_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return urlsplit(admin_url)._replace(path=f"/{name}").geturl()


def drop_database(admin_url: str, url: str) -> None:
    """Drop the database that `url` names, closing any connections still open to it."""
    name = urlsplit(url).path.lstrip("/")
    if not name or name == urlsplit(admin_url).path.lstrip("/"):
        raise ValueError(f"refusing to drop the admin database via {url}")
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
