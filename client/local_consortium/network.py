"""`ledger network up/down`: a whole local consortium network on loopback.

`up` creates a consortium (the demo's cast, with nodes for the core
enterprise, a supplier, a bank and the auditor), starts a 3-member etcd
cluster and one node per node-running organisation (each with its own
SQLite database, attesting with its own key), and records every process in
`network.json`.  `down` stops exactly those processes, by PID, after
checking each PID still belongs to what `up` started.  Processes run in
their own sessions, so they outlive the command that started them.

Everything talks mutual TLS with certificates from the consortium CA
(client/local_consortium/pki.py): nodes serve https with their node
certificates and require client certificates; etcd members get their own
node-style certificates (`DIR/etcd/etcd<N>.crt/.pem`, issued by `up`, run
for core, tier1 and bank_a) and require certificates from clients and peers.  `network.json`
records the CA path and each member's certificate path, which is what a
client needs besides its own key (`network_tls_context`).

`up` with `simulated_clock` starts a *simulation* network: every node runs
on a manual clock (`--manual-clock START`) that only moves when told to
(`POST /v1/admin/clock` on each node), and the genesis is dated START.
`network.json` records `simulated_clock`; `ledger demo --network` needs such
a network, since its story spans months.  A real network uses system clocks.
"""

from __future__ import annotations

import json
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from client.local_consortium.consortium import Consortium, init_consortium, node_id_of
from client.local_consortium.etcd_cluster import (
    EtcdMember,
    operator_context,
    process_is,
    restart_member,
    start_etcd_cluster,
    stop_members,
    stop_pid,
    wait_for_leader,
)
from client.local_consortium.launcher import free_port, start_node
from ledger.errors import LedgerError
from ledger.timefmt import format_timestamp, parse_timestamp

NETWORK_FILE = "network.json"
NODE_ORGS = ("core", "tier1", "bank_a", "auditor")


class NetworkError(RuntimeError):
    """A network cannot be started or stopped as asked."""


@dataclass(frozen=True)
class NodeEntry:
    """A node process of the network."""

    alias: str
    node_id: str
    url: str
    pid: int
    database: str
    log_path: str


def network_up(directory: Path, password: str,
               simulated_clock: str | None = None) -> dict[str, Any]:
    """Create (first time) and start a local network in `directory`; return its description.

    With `simulated_clock` (a UTC timestamp) it is a simulation network:
    every node runs on a manual clock starting there, and a new consortium's
    genesis is dated then.
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
    consortium_dir = directory / "consortium"
    if (consortium_dir / "consortium.json").exists():
        consortium = Consortium.open(consortium_dir)
    else:
        consortium = init_consortium(
            consortium_dir, password=password, chain_id="receivables-network",
            genesis_time=start_time, node_orgs=NODE_ORGS)
    members: list[EtcdMember] = []
    nodes: list[NodeEntry] = []
    try:
        if previous is None:
            members = start_etcd_cluster(
                directory / "etcd", 3, detach=True,
                certs=lambda name: consortium.issue_server_cert(
                    password, name=name, alias=NODE_ORGS[int(name[4:]) - 1],
                    directory=directory / "etcd" / "tls"))
        else:  # the same members, ports and certificates again, from their data directories
            members = [restart_member(EtcdMember(**m), detach=True) for m in previous["etcd"]]
            wait_for_leader([m.client_url for m in members], tls=operator_context(members))
        endpoints = ",".join(m.client_url for m in members)
        ports = {n["alias"]: int(n["url"].rsplit(":", 1)[1])
                 for n in (previous or {}).get("nodes", [])}
        ports = {alias: ports.get(alias) or free_port() for alias in NODE_ORGS}
        for alias in NODE_ORGS:
            nodes.append(_start_network_node(directory, consortium, alias, endpoints, ports,
                                             simulated_clock))
    except Exception:
        for entry in nodes:
            stop_pid(entry.pid, entry.database)
        stop_members(members)
        raise
    description = {
        "chain_id": consortium.chain_id, "consortium": str(consortium_dir),
        "ca": str(consortium.ca_cert_path),
        "member_certs": str(consortium.directory / "certs"),
        "etcd": [m.to_json() for m in members],
        "nodes": [entry.__dict__ for entry in nodes],
        "simulated_clock": simulated_clock,
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    described.write_text(json.dumps(description, indent=2), encoding="utf-8")
    return description


def _start_network_node(directory: Path, consortium: Consortium, alias: str,
                        endpoints: str, ports: dict[str, int],
                        simulated_clock: str | None) -> NodeEntry:
    """Start `alias`'s node on its port, knowing every other node as a peer.

    With `simulated_clock` the node runs on a manual clock starting there,
    which the consortium's auditor moves (the demo moves every node's clock as it).
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
               "--peers", peers))
    return NodeEntry(alias, node_id, process.url, process.process.pid, str(folder / "node.db"),
                     str(folder / "node.log"))


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
    ports = {a: int(n["url"].rsplit(":", 1)[1]) for a, n in entries.items()}
    entry = _start_network_node(directory.resolve(), consortium, alias, endpoints, ports,
                                description.get("simulated_clock"))
    description["nodes"] = [entry.__dict__ if n["alias"] == alias else n
                            for n in description["nodes"]]
    described.write_text(json.dumps(description, indent=2), encoding="utf-8")
    return entry


def any_running(description: dict[str, Any]) -> bool:
    """Return whether any process a network description names is still running."""
    return (any(process_is(n["pid"], n["database"]) for n in description.get("nodes", []))
            or any(process_is(m["pid"], m["data_dir"]) for m in description.get("etcd", [])))


def running_network(directory: Path) -> dict[str, Any] | None:
    """Return the description of the network running from `directory`, or None if none runs."""
    described = directory.resolve() / NETWORK_FILE
    if not described.exists():
        return None
    description: dict[str, Any] = json.loads(described.read_text(encoding="utf-8"))
    return description if any_running(description) else None


def network_down(directory: Path) -> list[str]:
    """Stop every process `network_up` started from `directory`; return what was stopped."""
    described = directory.resolve() / NETWORK_FILE
    if not described.exists():
        raise NetworkError(f"no network was started from {directory} (no {NETWORK_FILE})")
    description = json.loads(described.read_text(encoding="utf-8"))
    stopped = []
    for node in description.get("nodes", []):
        if stop_pid(node["pid"], node["database"]):
            stopped.append(f"node {node['node_id']} (pid {node['pid']})")
    for member in description.get("etcd", []):
        if stop_pid(member["pid"], member["data_dir"]):
            stopped.append(f"etcd member {member['name']} (pid {member['pid']})")
    return stopped


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
