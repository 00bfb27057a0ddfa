"""A real node, a credential issued to a supplier, and the supplier's console as a process.

`console_world` serves a node (tests/nodes.py), has core issue s1 a
credential (and s2 another, which s1 may not see), writes s1's keystore and
console settings, adds its people (maker, a second maker, checker, viewer,
admin: the admin through `ledger console user add`) and starts
`ledger console start` as a subprocess on a free loopback port, waiting for
its ready line.  `Browserless` logs in with httpx, reading CSRF tokens from
the forms as a browser would.
"""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn

from client.console import users
from client.console.app import create_app
from client.console.config import config_text, load_config
from client.console.server import bind
from client.console.services import Console
from client.console.store import open_database
from client.sdk.keystore import Identity, save_keystore
from client.sdk.tls import TlsFiles
from tests.node.support import grant_line, issue_args
from tests.nodes import RunningNode

PASSWORD = "console-test-keystore"
PEOPLE = {"mia": "maker", "max": "maker", "chen": "checker", "vera": "viewer", "ada": "admin"}


def password_of(name: str) -> str:
    """Return the test password of console user `name`."""
    return f"{name}-password-1"


@dataclass
class World:
    """The node, the credentials issued, and where the console's files are."""

    node: RunningNode
    to_s1: str  # a credential core issued to s1, awaiting s1's acceptance
    to_s1_second: str  # another, for flows that need a second one
    to_s2: str  # a credential of s2's: s1 may not see it
    folder: Path


def issue(node: RunningNode, line: str, to: str) -> str:
    """Have core issue `to` a credential (pending acceptance); return its id."""
    core = node.participant("core")
    try:
        return str(core.act("issue", **issue_args(node, line, to))["events"][0]["receivable"])
    finally:
        core.close()


def make_world(node: RunningNode, folder: Path) -> World:
    """Issue the credentials and write s1's keystore."""
    line = grant_line(node)
    world = World(node, issue(node, line, "s1"), issue(node, line, "s1"),
                  issue(node, line, "s2"), folder)
    s1 = node.orgs["s1"]
    save_keystore(folder / "s1.json", Identity(s1.uscc, s1.name, s1.key), PASSWORD)
    return world


def write_settings(world: World, name: str, *, database_url: str | None = None,
                   totp: bool = False, tls: TlsFiles | None = None,
                   language: str = "en") -> Path:
    """Write console settings `name`.toml for s1 (port 0) and add its people; return the path."""
    path = world.folder / f"{name}.toml"
    path.write_text(config_text(keystore=world.folder / "s1.json", nodes=[world.node.url],
                                tls=tls, database_url=database_url or f"sqlite:///{name}.db",
                                port=0, language=language, totp=totp), encoding="utf-8")
    engine = open_database(load_config(path).database_url)
    for person, role in PEOPLE.items():
        if person != "ada":
            users.add_user(engine, name=person, role=role, password=password_of(person),
                           by="test")
    engine.dispose()
    cli("console", "user", "add", "--config", str(path), "--name", "ada", "--role", "admin",
        env={"LEDGER_CONSOLE_USER_PASSWORD": password_of("ada")})
    return path


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `ledger ARGS` and return what it did (it must succeed)."""
    done = subprocess.run([sys.executable, "-m", "client", *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=120)
    assert done.returncode == 0, done.stderr
    return done


@dataclass
class Running:
    """A console process and the URL its ready line gave."""

    process: subprocess.Popen[str]
    url: str
    lines: list[str]


@contextmanager
def running_console(settings: Path) -> Iterator[Running]:
    """Run `ledger console start` on `settings` until the block ends; then SIGTERM it.

    On the way out it checks the stop line came and no traceback was shown.
    """
    process = subprocess.Popen(
        [sys.executable, "-m", "client", "console", "start", "--config", str(settings)],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
        env={**os.environ, "LEDGER_PASSWORD": PASSWORD})
    lines = _until_ready(process)
    url = lines[-1].rsplit(" serves ", 1)[1].strip()
    try:
        yield Running(process, url, lines)
    finally:
        process.send_signal(signal.SIGTERM)
        _, rest = process.communicate(timeout=30)
    assert "Traceback" not in rest, rest
    assert "stopped" in rest and process.returncode == 0, (process.returncode, rest)


def _until_ready(process: subprocess.Popen[str], timeout: float = 60.0) -> list[str]:
    assert process.stderr is not None
    lines: list[str] = []
    selector = selectors.DefaultSelector()
    selector.register(process.stderr, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while not any(line.startswith("ready: ") for line in lines):
        assert time.monotonic() < deadline and process.poll() is None, lines
        if selector.select(timeout=0.5):
            lines.append(process.stderr.readline().rstrip("\n"))
    return lines


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Browserless:
    """A person at the console through httpx: forms read for their CSRF token, as a browser."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, follow_redirects=True, timeout=60)

    def token(self, path: str = "/login") -> str:
        """Return the CSRF token of the forms on `path`."""
        found = CSRF.search(self.http.get(path).text)
        assert found, path
        return found.group(1)

    def log_in(self, name: str, password: str | None = None) -> httpx.Response:
        """Post the login form as `name` (with the right password unless given)."""
        return self.http.post("/login", data={
            "csrf_token": self.token(), "name": name,
            "password": password if password is not None else password_of(name)})

    def post(self, path: str, data: dict[str, str] | None = None,
             token_from: str = "/") -> httpx.Response:
        """Post a form to `path` with the CSRF token of the page `token_from`."""
        return self.http.post(path, data={"csrf_token": self.token(token_from), **(data or {})})

    def close(self) -> None:
        """Close the connection."""
        self.http.close()


def org_console_settings(node: RunningNode, folder: Path, org: str) -> Path:
    """Write `org`'s keystore and console settings (English), with the test people."""
    who = node.orgs[org]
    save_keystore(folder / f"{org}.json", Identity(who.uscc, who.name, who.key), PASSWORD)
    path = folder / f"{org}.toml"
    path.write_text(config_text(keystore=folder / f"{org}.json", nodes=[node.url], tls=None,
                                database_url=f"sqlite:///{folder / org}.db", port=0,
                                language="en", totp=False), encoding="utf-8")
    engine = open_database(load_config(path).database_url)
    for person, role in PEOPLE.items():
        users.add_user(engine, name=person, role=role, password=password_of(person), by="test")
    engine.dispose()
    return path


@contextmanager
def served(console: Console) -> Iterator[str]:
    """Serve `console`'s app in this process on a free loopback port; yield its URL."""
    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(create_app(console), log_level="warning",
                                           access_log=False, log_config=None))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
