"""`ledger network up/down`: a whole local consortium network on loopback.

`up` creates a consortium (the demo's cast, with nodes for the core
enterprise, a supplier, a bank and the auditor), starts a 3-member etcd
cluster and one node per node-running organisation (each with its own
SQLite database, attesting with its own key), and records every process in
`network.json`.  `down` stops exactly those processes, by PID, after
checking each PID still belongs to what `up` started, and first the consoles
`ledger demo --console` recorded there (client/local_consortium/demo_consoles.py).  Processes run in
their own sessions, so they outlive the command that started them.

Everything talks mutual TLS with certificates from the consortium CA
(client/local_consortium/pki.py): nodes serve https with their node
certificates and require client certificates; etcd members get their own
node-style certificates (`DIR/etcd/etcd<N>.crt/.pem`, issued by `up`, run
for core, tier1 and bank_a) and require certificates from clients and peers.  `network.json`
records the CA path and each member's certificate path, which is what a
client needs besides its own key (`network_tls_context`).

Each node logs at info level (or `log_level`) to `DIR/nodes/<alias>/node.log`
and serves Prometheus metrics on loopback, at the `metrics_url` that
`network.json` records.  `up` and `down` tell a `progress` callback each
step, as they take seconds (the CLI prints them to stderr).

`up` with `simulated_clock` starts a *simulation* network: every node runs
on a manual clock (`--manual-clock START`) that only moves when told to
(`POST /v1/admin/clock` on each node), and the genesis is dated START.
`network.json` records `simulated_clock`; `ledger demo --network` needs such
a network, since its story spans months.  A real network uses system clocks.
"""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from client.local_consortium.consortium import Consortium, init_consortium, node_id_of
from client.local_consortium.etcd_cluster import (
    TUNING_FLAGS,
    EtcdMember,
    operator_context,
    process_is,
    restart_member,
    start_etcd_cluster,
    stop_members,
    stop_pid,
    wait_for_leader,
)
from client.local_consortium.launcher import free_ports, start_node
from ledger.errors import LedgerError
from ledger.timefmt import format_timestamp, parse_timestamp

NETWORK_FILE = "network.json"
NODE_ORGS = ("core", "tier1", "bank_a", "auditor")


class NetworkError(RuntimeError):
    """A network cannot be started or stopped as asked."""


Progress = Callable[[str], None]


def quiet(_message: str) -> None:
    """Report nothing: the default progress of `network_up` and `network_down`."""


@dataclass(frozen=True)
class NodeEntry:
    """A node process of the network."""

    alias: str
    node_id: str
    url: str
    pid: int
    database: str
    log_path: str
    metrics_url: str = ""


def network_up(directory: Path, password: str, simulated_clock: str | None = None, *,
               progress: Progress = quiet, log_level: str | None = None,
               etcd_tuning: Sequence[str] = TUNING_FLAGS) -> dict[str, Any]:
    """Create (first time) and start a local network in `directory`; return its description.

    With `simulated_clock` (a UTC timestamp) it is a simulation network:
    every node runs on a manual clock starting there, and a new consortium's
    genesis is dated then.  `progress` is told each step as it starts and
    ends; the nodes log at `log_level` (info by default) to their node.log.
    The etcd members run with `etcd_tuning` (by default the flags that keep
    them bounded, `etcd_cluster.TUNING_FLAGS`; scripts/soak_etcd.py compares others).
    """
    directory = directory.resolve()
    described = directory / NETWORK_FILE
    previous = json.loads(described.read_text()) if described.exists() else None
    if previous is not None and any_running(previous):
        raise NetworkError(f"a network is already running from {directory} "
                           f"(stop it with: ledger network down --dir {directory})")
    start_time = datetime.now(UTC).replace(microsecond=0)
    if simulated_clock is not None:
        try:
            start_time = parse_timestamp(simulated_clock, what="--simulated-clock")
        except LedgerError as exc:
            raise NetworkError(str(exc)) from exc
        simulated_clock = format_timestamp(start_time)
    consortium = _consortium(directory / "consortium", password, start_time, progress)
    members: list[EtcdMember] = []
    nodes: list[NodeEntry] = []
    try:
        members = _start_etcd(directory, consortium, password, previous, progress,
                              etcd_tuning)
        endpoints = ",".join(m.client_url for m in members)
        ports, metrics_ports = _ports(previous)
        for number, alias in enumerate(NODE_ORGS, 1):
            progress(f"starting node {node_id_of(alias)} ({number}/{len(NODE_ORGS)}) "
                     f"on port {ports[alias]}")
            started = time.monotonic()
            nodes.append(_start_network_node(
                directory, consortium, alias, endpoints, ports, simulated_clock,
                metrics_port=metrics_ports[alias], log_level=log_level))
            progress(f"node {node_id_of(alias)} ready in {time.monotonic() - started:.1f} s")
    except Exception:
        progress("start-up failed: stopping what was started")
        for entry in nodes:
            stop_pid(entry.pid, entry.database)
        stop_members(members)
        raise
    description = {
        "chain_id": consortium.chain_id, "consortium": str(consortium.directory),
        "ca": str(consortium.ca_cert_path),
        "member_certs": str(consortium.directory / "certs"),
        "etcd": [m.to_json() for m in members],
        "nodes": [entry.__dict__ for entry in nodes],
        "simulated_clock": simulated_clock,
        "log_level": log_level,
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    described.write_text(json.dumps(description, indent=2), encoding="utf-8")
    return description


def _consortium(folder: Path, password: str, start_time: datetime,
                progress: Progress) -> Consortium:
    """Open the network's consortium, creating it the first time."""
    if (folder / "consortium.json").exists():
        progress(f"using the consortium in {folder}")
        return Consortium.open(folder)
    progress(f"creating the consortium in {folder}: keys, keystores, certificates, genesis")
    return init_consortium(folder, password=password, chain_id="receivables-network",
                           genesis_time=start_time, node_orgs=NODE_ORGS)


def _start_etcd(directory: Path, consortium: Consortium, password: str,
                previous: dict[str, Any] | None, progress: Progress,
                tuning: Sequence[str]) -> list[EtcdMember]:
    """Start the 3-member etcd cluster (again, from its data, if it ran before)."""
    started = time.monotonic()
    if previous is None:
        progress("starting etcd: 3 members, then waiting for a leader")
        members = start_etcd_cluster(
            directory / "etcd", 3, detach=True,
            certs=lambda name: consortium.issue_server_cert(
                password, name=name, alias=NODE_ORGS[int(name[4:]) - 1],
                directory=directory / "etcd" / "tls"), tuning=tuning)
    else:  # the same members, ports and certificates again, from their data directories
        progress("restarting etcd's 3 members from their data, then waiting for a leader")
        members = [restart_member(EtcdMember(**m), detach=True, tuning=tuning)
                   for m in previous["etcd"]]
        wait_for_leader([m.client_url for m in members], tls=operator_context(members))
    progress(f"etcd ready in {time.monotonic() - started:.1f} s")
    return members


def _ports(previous: dict[str, Any] | None) -> tuple[dict[str, int], dict[str, int]]:
    """Return each node's API and metrics ports: those it had before, or free ones."""
    entries = {n["alias"]: n for n in (previous or {}).get("nodes", [])}

    def port_of(url: str) -> int | None:
        return int(url.rsplit(":", 1)[1].split("/")[0]) if url else None

    had = {(alias, kind): port_of(entries.get(alias, {}).get(key, ""))
           for alias in NODE_ORGS for kind, key in (("api", "url"), ("metrics", "metrics_url"))}
    fresh = iter(free_ports(sum(1 for port in had.values() if port is None)))
    chosen = {slot: port if port is not None else next(fresh) for slot, port in had.items()}
    return ({alias: chosen[(alias, "api")] for alias in NODE_ORGS},
            {alias: chosen[(alias, "metrics")] for alias in NODE_ORGS})


def _start_network_node(directory: Path, consortium: Consortium, alias: str,
                        endpoints: str, ports: dict[str, int],
                        simulated_clock: str | None, *, metrics_port: int,
                        log_level: str | None) -> NodeEntry:
    """Start `alias`'s node on its port, knowing every other node as a peer.

    With `simulated_clock` the node runs on a manual clock starting there,
    which the consortium's auditor moves (the demo moves every node's clock as it).
    It serves its metrics on loopback at `metrics_port`.
    """
    peers = ",".join(f"https://127.0.0.1:{p}" for a, p in ports.items() if a != alias)
    folder = directory / "nodes" / alias
    folder.mkdir(parents=True, exist_ok=True)
    database = f"sqlite:///{folder / 'node.db'}"
    node_id = node_id_of(alias)
    process = start_node(
        genesis=consortium.genesis_path, database_url=database, etcd=endpoints,
        log_path=folder / "node.log", node_id=node_id, detach=True, port=ports[alias],
        tls=consortium.node_tls_files(alias), manual_clock=simulated_clock,
        clock_controllers=(consortium.orgs["auditor"]["uscc"],) if simulated_clock else (),
        extra=("--node-key", str(consortium.directory / "nodes" / f"{alias}.key"),
               "--peers", peers), log_level=log_level, metrics_port=metrics_port)
    return NodeEntry(alias, node_id, process.url, process.process.pid, str(folder / "node.db"),
                     str(folder / "node.log"), f"http://127.0.0.1:{metrics_port}/metrics")


def restart_node(directory: Path, alias: str) -> NodeEntry:
    """Start one stopped (or crashed) node of a running network again, on its port.

    On a simulation network the node's manual clock starts again at the
    recorded start: move it forward to the others' time before using it.
    """
    described = directory.resolve() / NETWORK_FILE
    if not described.exists():
        raise NetworkError(f"no network was started from {directory} (no {NETWORK_FILE})")
    description = json.loads(described.read_text(encoding="utf-8"))
    entries = {n["alias"]: n for n in description["nodes"]}
    if alias not in entries:
        raise NetworkError(f"the network has no node for {alias!r}")
    if process_is(entries[alias]["pid"], entries[alias]["database"]):
        raise NetworkError(f"the node of {alias} is still running")
    consortium = Consortium.open(Path(description["consortium"]))
    endpoints = ",".join(m["client_url"] for m in description["etcd"])
    ports, metrics_ports = _ports(description)
    entry = _start_network_node(directory.resolve(), consortium, alias, endpoints, ports,
                                description.get("simulated_clock"),
                                metrics_port=metrics_ports[alias],
                                log_level=description.get("log_level"))
    description["nodes"] = [entry.__dict__ if n["alias"] == alias else n
                            for n in description["nodes"]]
    described.write_text(json.dumps(description, indent=2), encoding="utf-8")
    return entry


def any_running(description: dict[str, Any]) -> bool:
    """Return whether any process a network description names is still running."""
    return (any(process_is(n["pid"], n["database"]) for n in description.get("nodes", []))
            or any(process_is(m["pid"], m["data_dir"]) for m in description.get("etcd", []))
            or any(process_is(c["pid"], c["config"]) for c in description.get("consoles", [])))


def running_network(directory: Path) -> dict[str, Any] | None:
    """Return the description of the network running from `directory`, or None if none runs."""
    described = directory.resolve() / NETWORK_FILE
    if not described.exists():
        return None
    description: dict[str, Any] = json.loads(described.read_text(encoding="utf-8"))
    return description if any_running(description) else None


def network_down(directory: Path, *, progress: Progress = quiet) -> list[str]:
    """Stop every process `network_up` started from `directory`; return what was stopped.

    The consoles `ledger demo --console` recorded stop first, then the
    nodes together, then the etcd members one after the other (a
    node stopping may still hand its last batch to etcd, and an etcd leader
    stopping hands its leadership on, which takes seconds when its followers
    are stopping too); `progress` hears of each.
    """
    described = directory.resolve() / NETWORK_FILE
    if not described.exists():
        raise NetworkError(f"no network was started from {directory} (no {NETWORK_FILE})")
    description = json.loads(described.read_text(encoding="utf-8"))
    nodes = [(f"node {n['node_id']} (pid {n['pid']})", n["pid"], n["database"])
             for n in description.get("nodes", [])]
    members = [(f"etcd member {m['name']} (pid {m['pid']})", m["pid"], m["data_dir"])
               for m in description.get("etcd", [])]
    consoles = description.get("consoles", [])
    if consoles:
        progress(f"stopping {len(consoles)} consoles")
    stopped = stop_consoles(consoles)
    progress(f"stopping {len(nodes)} nodes")
    if nodes:
        with ThreadPoolExecutor(max_workers=len(nodes)) as pool:
            stopped += [name for name in pool.map(lambda n: _stop(n, progress), nodes) if name]
    progress(f"stopping {len(members)} etcd members")
    return stopped + [name for name in (_stop(m, progress) for m in members) if name]


def stop_consoles(consoles: list[dict[str, Any]]) -> list[str]:
    """Stop the recorded consoles still running (by PID, checked against their settings path)."""
    return [f"console of {c['alias']} (pid {c['pid']})" for c in consoles
            if stop_pid(int(c["pid"]), str(c["config"]))]


def _stop(process: tuple[str, int, str], progress: Progress) -> str | None:
    """Stop a (name, pid, hint) process if it still runs; return its name if it did."""
    name, pid, hint = process
    started = time.monotonic()
    if not stop_pid(pid, hint):
        return None
    progress(f"stopped {name} in {time.monotonic() - started:.1f} s")
    return name


def network_urls(directory: Path) -> list[str]:
    """Return the node URLs of the network started from `directory`."""
    described = directory.resolve() / NETWORK_FILE
    if not described.exists():
        raise NetworkError(f"no network was started from {directory} (no {NETWORK_FILE})")
    return [n["url"] for n in json.loads(described.read_text(encoding="utf-8"))["nodes"]]


def network_tls_context(directory: Path, alias: str, password: str) -> ssl.SSLContext:
    """Return the TLS context member `alias` uses to reach the network's nodes."""
    described = directory.resolve() / NETWORK_FILE
    if not described.exists():
        raise NetworkError(f"no network was started from {directory} (no {NETWORK_FILE})")
    description = json.loads(described.read_text(encoding="utf-8"))
    return Consortium.open(Path(description["consortium"])).tls_context(alias, password)
