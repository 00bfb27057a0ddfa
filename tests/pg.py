"""A throw-away PostgreSQL server for tests: initdb, start on a free loopback port, stop by PID.

Binaries come from Debian's package (/usr/lib/postgresql/N/bin) or
`pg_config --bindir`.  When none is installed the tests that need it skip,
except under CI, where `.ci/run` installs PostgreSQL and a missing server is a
failure.  PostgreSQL refuses to run as root, so as root it runs as `postgres`.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def postgres_bindir() -> Path | None:
    """Return the folder holding initdb and pg_ctl, or None if PostgreSQL is not installed."""
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                    key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit()
                    else 0)
    if debian:
        return debian[-1].parent
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        folder = Path(out.stdout.strip())
        if (folder / "initdb").exists():
            return folder
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_postgres(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


@contextmanager
def postgres_server(workdir: Path) -> Iterator[str]:
    """Run a PostgreSQL server in `workdir`; yield a database URL; stop it afterwards."""
    bindir = postgres_bindir()
    if bindir is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed; .ci/run should have installed it")
        pytest.skip("PostgreSQL is not installed on this machine")
    if os.geteuid() == 0:  # the postgres user cannot enter root's private temp folders
        workdir = Path(tempfile.mkdtemp(prefix="ledger-pg-"))
        shutil.chown(workdir, "postgres")
    data = workdir / "pgdata"
    workdir.mkdir(parents=True, exist_ok=True)
    subprocess.run(_as_postgres([str(bindir / "initdb"), "-D", str(data), "-U", "postgres",
                                 "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"]),
                   check=True, capture_output=True)
    port = _free_port()
    options = f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={workdir}"
    subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-l",
                                 str(workdir / "log"), "-w", "start", "-o", options]),
                   check=True, capture_output=True)
    pid = int((data / "postmaster.pid").read_text().split()[0])
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        os.kill(pid, signal.SIGINT)  # fast shutdown
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.1)
        shutil.rmtree(workdir, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def new_database(server_url: str, prefix: str = "t") -> str:
    """Create an empty database on the server at `server_url`; return its URL."""
    import uuid

    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + "/" + name
