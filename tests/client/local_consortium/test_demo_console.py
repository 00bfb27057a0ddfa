"""`ledger demo --network DIR --console`: consoles running, logins working, stopped by down."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from client.local_consortium.etcd_cluster import process_is
from client.local_consortium.network import any_running, network_down
from tests.client.console.support import Browserless
from tests.etcd import need_etcd

LOGINS = re.compile(r"console (\w+): (http://127\.0\.0\.1:\d+)  logins: (\S+)/(\S+), (\S+)/(\S+)")


def _ledger(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "LEDGER_PASSWORD"}
    return subprocess.run([sys.executable, "-m", "client", *args], capture_output=True,
                          text=True, env={**env, "COLUMNS": "200"}, timeout=600)


def _processes_mentioning(folder: Path) -> list[str]:
    """Return the command lines of running processes that name `folder` (ours, or strays)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if str(folder) in cmdline:
                found.append(f"{entry.name}: {cmdline}")
    return found


@pytest.mark.slow
@pytest.mark.etcd
def test_demo_leaves_consoles_whose_printed_logins_work_until_network_down(
        tmp_path: Path) -> None:
    need_etcd()
    directory = tmp_path / "net"
    run = _ledger("demo", "--network", str(directory), "--console")
    described = directory / "network.json"
    description = json.loads(described.read_text()) if described.exists() else {}
    try:
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr
        assert "audit PASSED" in run.stdout
        printed = {m.group(1): m.groups()[1:] for m in LOGINS.finditer(run.stdout)}
        recorded = {c["alias"]: c for c in description["consoles"]}
        assert sorted(printed) == sorted(recorded) == ["auditor", "bank_a", "core", "tier1"]
        assert f"ledger network down --dir {directory}" in " ".join(run.stdout.split())
        for alias, (url, *logins) in printed.items():
            assert url == recorded[alias]["url"]
            for name, password in (logins[:2], logins[2:]):
                _see_dashboard(url, name, password, recorded[alias]["name"])
        _see_business_in_flight(printed["tier1"][0], *printed["tier1"][1:3])
        _see_the_genesis_trusted(printed["auditor"][0], *printed["auditor"][1:3])
    finally:
        down = _ledger("network", "down", "--dir", str(directory)) if description else None
    assert down is not None
    assert down.returncode == 0, down.stderr
    assert down.stdout.count("console of") == 4, down.stdout
    assert not any_running(description)
    for entry in description["consoles"]:
        assert not process_is(entry["pid"], entry["config"])
    assert _processes_mentioning(directory) == []  # nothing started for it still runs


def _see_dashboard(url: str, name: str, password: str, organisation: str) -> None:
    """Log in over HTTP as a person would and find the dashboard of `organisation`."""
    person = Browserless(url)
    try:
        page = person.http.post("/login", data={"csrf_token": person.token(), "name": name,
                                                "password": password})
        assert page.status_code == 200 and page.url.path == "/", (page.status_code, page.url)
        assert organisation in page.text and name in page.text
    finally:
        person.close()


def _see_business_in_flight(url: str, name: str, password: str) -> None:
    """The supplier's inbox shows the credential left awaiting its signature."""
    person = Browserless(url)
    try:
        person.http.post("/login", data={"csrf_token": person.token(), "name": name,
                                         "password": password})
        inbox = person.http.get("/inbox")
        assert inbox.status_code == 200
        assert "3,000,000.00" in inbox.text, inbox.text[-2000:]
    finally:
        person.close()


def test_network_down_stops_only_consoles_it_recorded(tmp_path: Path) -> None:
    """A recorded console PID now used by another process is left alone (checked by settings)."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / "network.json").write_text(json.dumps({"consoles": [
            {"alias": "core", "pid": sleeper.pid, "config": str(tmp_path / "console.toml")}]}))
        assert network_down(tmp_path) == []
        assert sleeper.poll() is None
    finally:
        sleeper.kill()
        sleeper.wait()


def _see_the_genesis_trusted(url: str, name: str, password: str) -> None:
    """The verify page names the consortium's genesis, so the browser has something to pin."""
    person = Browserless(url)
    try:
        person.http.post("/login", data={"csrf_token": person.token(), "name": name,
                                         "password": password})
        page = person.http.get(f"/explorer/transactions/{'0' * 64}/verify")
        assert page.status_code == 200 and 'id="genesis-fingerprint"' in page.text
    finally:
        person.close()
