"""Test helpers that run real nodes: in a thread (uvicorn on a free loopback port).

A single node serves plain HTTP (the embedded default); network nodes
(`running_network`) serve mutual TLS with certificates from the session's
test CA, and their participants present member certificates.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import uvicorn

from client.local_consortium.launcher import free_port
from client.sdk.keystore import Identity
from client.sdk.participant import Participant
from client.sdk.tls import TlsFiles
from ledger.attestation import NodeInfo
from ledger.crypto import PrivateKey, sha256
from ledger.genesis import make_genesis
from node.app import create_app
from node.clock import ManualClock
from node.config import NodeConfig
from node.ordering import Orderer
from node.service import NodeService
from node.transport import tls
from tests.builders import START, Org, make_orgs
from tests.pki import shared_pki


def write_genesis(path: Path, orgs: dict[str, Org], policies: dict[str, Any] | None = None,
                  chain_id: str = "test-chain", start: datetime = START,
                  nodes: Sequence[NodeInfo] = (), contracts_hash: str | None = None) -> None:
    """Write a genesis file founding `orgs` (registering `nodes`, pinning `contracts_hash`)."""
    members = {o.uscc: (o.member(), o.key) for o in orgs.values()}
    genesis = make_genesis(chain_id, start, members, policies or {}, nodes,
                           contracts_hash=contracts_hash)
    path.write_text(json.dumps(genesis.to_json()), encoding="utf-8")


@dataclass
class RunningNode:
    """A node served in-process, with its clock and service."""

    url: str
    clock: ManualClock
    service: NodeService
    orgs: dict[str, Org]

    def participant(self, name: str, *, also: Sequence[str] = ()) -> Participant:
        """Return an SDK participant for org `name`, signing with the node's clock.

        On a TLS node it presents `name`'s member certificate from the test
        CA.  `also` are more node URLs to fail over to.
        """
        org = self.orgs[name]
        context = shared_pki().member_context(org) if self.url.startswith("https:") else None
        return Participant([self.url, *also], Identity(org.uscc, org.name, org.key),
                           now=self.clock.now, tls=context)


@contextmanager
def running_node(tmp: Path, *, policies: dict[str, Any] | None = None,
                 database_url: str | None = None, start: datetime = START,
                 nodes: Sequence[NodeInfo] = (), contracts_hash: str | None = None,
                 orderer: Orderer | None = None, **settings: Any) -> Iterator[RunningNode]:
    """Serve a node on a free port for the duration of the block.

    The database and the orderer log live in `tmp`, so a second `running_node`
    on the same directory restarts the same node.  `orderer` is an ordering
    log shared with other nodes of the process instead (the caller closes
    it).  `settings` are NodeConfig fields (batch_max_wait_ms defaults to 5
    here, to keep tests fast).
    """
    orgs = make_orgs()
    write_genesis(tmp / "genesis.json", orgs, policies, start=start, nodes=nodes,
                  contracts_hash=contracts_hash)
    settings = {"batch_max_wait_ms": 5, "port": free_port(), **settings}
    config = NodeConfig(
        genesis_path=tmp / "genesis.json",
        database_url=database_url or f"sqlite:///{tmp / 'node.db'}",
        orderer_path=tmp / "orderer.db", **settings,
    )
    clock = ManualClock(start)
    service = NodeService(config, clock=clock, orderer=orderer)
    app = create_app(config, service=service)
    # a client left connected must not hold the shutdown for the 10 s the join waits
    server = uvicorn.Server(tls.uvicorn_config(app, config, log_level="warning",
                                               access_log=False, timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        scheme = "https" if tls.enabled(config) else "http"
        yield RunningNode(f"{scheme}://127.0.0.1:{config.port}", clock, service, orgs)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


NODE_ORGS = ("core", "s1", "b1", "auditor")  # who runs the network's nodes, in order


def node_key(index: int) -> PrivateKey:
    """Return the attestation key of network node `index` (1-based), fixed for tests."""
    return PrivateKey(sha256(f"test node key {index}".encode()))


def network_nodes(count: int = 4) -> list[NodeInfo]:
    """Return the registered nodes node1..node`count`, run by NODE_ORGS in turn."""
    orgs = make_orgs()
    return [NodeInfo(f"node{i + 1}", orgs[NODE_ORGS[i % len(NODE_ORGS)]].uscc,
                     node_key(i + 1).public_key) for i in range(count)]


def registered_node(tmp: Path, registered: int,
                    **settings: Any) -> AbstractContextManager[RunningNode]:
    """Serve node1 (key 1) of a chain registering `registered` nodes, on the embedded orderer.

    It signs its batches, and its checkpoints, as node1; `settings` are
    NodeConfig fields as for `running_node`.
    """
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "node.key").write_text(node_key(1).seed.hex())
    return running_node(tmp, nodes=network_nodes(registered), node_id="node1",
                        node_key_path=tmp / "node.key", **{"verifier_processes": 0, **settings})


def node_tls(index: int, org: Org) -> TlsFiles:
    """Issue network node `index`'s certificate over its attestation key (test CA)."""
    return shared_pki().node_files(f"node{index}", key=node_key(index), org=org)


@contextmanager
def running_network(tmp: Path, etcd_urls: list[str], count: int = 3, *,
                    registered: int | None = None, **settings: Any) -> Iterator[list[RunningNode]]:
    """Serve `count` nodes of one consortium, each with its own database, ordered by etcd.

    `registered` nodes (default: `count`) are in the genesis, each attesting
    with its key; the first `count` of them run here, each knowing the
    others as peers.  Each serves mutual TLS with a node certificate over its
    attestation key, and reaches etcd and its peers with it.
    """
    ports = [free_port() for _ in range(count)]
    with ExitStack() as stack:
        nodes = []
        for index in range(count):
            peers = [f"https://127.0.0.1:{p}" for i, p in enumerate(ports) if i != index]
            nodes.append(stack.enter_context(network_node(
                tmp, etcd_urls, index + 1, registered=registered or count, port=ports[index],
                peers=",".join(peers), **settings)))
        yield nodes


def network_node(tmp: Path, etcd_urls: list[str], number: int, *, registered: int,
                 **settings: Any) -> AbstractContextManager[RunningNode]:
    """Serve registered network node `number` (1-based) from `tmp/node<number>`."""
    folder = tmp / f"node{number}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "node.key").write_text(node_key(number).seed.hex())
    files = node_tls(number, make_orgs()[NODE_ORGS[(number - 1) % len(NODE_ORGS)]])
    settings = {"verifier_processes": 0, **settings}
    return running_node(folder, etcd_endpoints=",".join(etcd_urls), node_id=f"node{number}",
                        node_key_path=folder / "node.key", nodes=network_nodes(registered),
                        tls_cert_path=files.cert, tls_key_path=files.key, tls_ca_path=files.ca,
                        **settings)


def wait_until_final(nodes: list[RunningNode], height: int, timeout: float = 30.0) -> None:
    """Wait until block `height` is final on every node."""
    deadline = time.monotonic() + timeout
    while min(n.service.final_height for n in nodes) < height:
        assert time.monotonic() < deadline, [n.service.final_height for n in nodes]
        time.sleep(0.05)


def wait_until_level(nodes: list[RunningNode], timeout: float = 30.0) -> int:
    """Wait until every node has the same head; return its height."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        heads = {n.service.chain.head.hash() for n in nodes}
        if len(heads) == 1:
            return nodes[0].service.chain.head.height
        time.sleep(0.05)
    raise AssertionError(f"nodes did not converge: heights "
                         f"{[n.service.chain.head.height for n in nodes]}")
