"""`ledger demo --console`: web consoles left running beside a simulation network's nodes.

After the demo's story, `start_consoles` gives each node-running
organisation (the core enterprise, a supplier, a bank and the auditor) a
console of its own, as `ledger console start` would run it: its settings in
`DIR/consoles/<alias>/console.toml` (its keystore, its own node first and
the others to fail over to, its member certificate for the network's mutual
TLS, its database beside it, TOTP off), two demo users (a maker and a
checker, with the fixed passwords below: a demo on loopback, nothing to
keep secret) and a detached process that outlives the demo, logging to
`console.log` there.  Each is recorded in the network's `network.json`
(`consoles`: alias, URL, PID, settings), so `ledger network down` stops
them with the rest, by PID.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from client.console import users
from client.console.config import config_text, load_config
from client.console.store import open_database
from client.local_consortium.consortium import Consortium
from client.local_consortium.etcd_cluster import stop_pid
from client.local_consortium.launcher import free_ports
from client.local_consortium.network import NETWORK_FILE, NODE_ORGS, NetworkError, stop_consoles
from client.sdk.tls import TlsFiles

CONSOLE_ORGS = NODE_ORGS  # one console beside each node: core, supplier, bank, auditor
DEMO_USERS = (("maker", "maker", "maker-demo-1"), ("checker", "checker", "checker-demo-1"))
START_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class ConsoleEntry:
    """A console process of the demo, as `network.json` records it."""

    alias: str
    name: str
    url: str
    pid: int
    config: str
    log_path: str
    logins: tuple[tuple[str, str, str], ...] = DEMO_USERS  # (name, role, password)


def start_consoles(directory: Path, password: str) -> list[ConsoleEntry]:
    """Start a console beside each node of the network running from `directory`; record them.

    `password` opens the keystores (the network's).  Raises NetworkError if
    a console does not start (those already started are stopped).
    """
    described = directory.resolve() / NETWORK_FILE
    description = json.loads(described.read_text(encoding="utf-8"))
    consortium = Consortium.open(Path(description["consortium"]))
    urls = {n["alias"]: n["url"] for n in description["nodes"]}
    started: list[ConsoleEntry] = []
    try:
        for alias, port in zip(CONSOLE_ORGS, free_ports(len(CONSOLE_ORGS)), strict=True):
            nodes = [urls[alias], *(u for a, u in urls.items() if a != alias)]
            settings = _settings(directory.resolve() / "consoles" / alias, consortium, alias,
                                 nodes, port)
            started.append(_launch(settings, alias, consortium.orgs[alias]["name"], password))
    except Exception:
        stop_consoles([asdict(entry) for entry in started])
        raise
    description["consoles"] = [asdict(entry) for entry in started]
    described.write_text(json.dumps(description, indent=2), encoding="utf-8")
    return started


def _settings(folder: Path, consortium: Consortium, alias: str, nodes: list[str],
              port: int) -> Path:
    """Write `alias`'s console settings in `folder` and add the demo users; return the path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "console.toml"
    for stale in (path, folder / "console.db"):
        stale.unlink(missing_ok=True)  # a network started again gets fresh consoles
    member = TlsFiles(consortium.member_cert_path(alias), consortium.member_tls_key_path(alias),
                      consortium.ca_cert_path)
    path.write_text(config_text(keystore=consortium.keystore(alias), nodes=nodes, tls=member,
                                database_url="sqlite:///console.db", port=port,
                                genesis=consortium.genesis_path),
                    encoding="utf-8")
    engine = open_database(load_config(path).database_url)
    try:
        for name, role, secret in DEMO_USERS:
            users.add_user(engine, name=name, role=role, password=secret, by="ledger demo")
    finally:
        engine.dispose()
    return path


def _launch(settings: Path, alias: str, name: str, password: str) -> ConsoleEntry:
    """Start `ledger console start` on `settings`, detached; wait until it answers."""
    log_path = settings.parent / "console.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "client", "console", "start", "--config", str(settings)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, "LEDGER_PASSWORD": password, "PYTHONUNBUFFERED": "1"},
            start_new_session=True)
    config = load_config(settings)
    url = f"http://{config.host}:{config.port}"
    entry = ConsoleEntry(alias, name, url, process.pid, str(settings), str(log_path))
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(encoding="utf-8", errors="replace")[-2000:]
            raise NetworkError(f"the console of {alias} exited during start-up:\n{tail}")
        try:
            if httpx.get(url + "/login", timeout=1.0).status_code == 200:
                return entry
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    stop_pid(process.pid, str(settings))
    raise NetworkError(f"the console of {alias} did not answer within {START_TIMEOUT_S:.0f} s "
                       f"(see {log_path})")

