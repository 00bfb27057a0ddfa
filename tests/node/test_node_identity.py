"""A node of a chain with registered nodes signs its batches with its registered key.

These run on the embedded orderer: the batch rules depend only on the chain.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.batch import open_batch
from ledger.errors import LedgerError
from node.config import NodeConfig
from node.service import NodeService
from tests.builders import make_orgs
from tests.node.support import grant_line
from tests.nodes import network_nodes, node_key, registered_node, write_genesis


def _config(tmp_path: Path, **settings: object) -> NodeConfig:
    write_genesis(tmp_path / "genesis.json", make_orgs(), nodes=network_nodes(2))
    return NodeConfig(genesis_path=tmp_path / "genesis.json",
                      database_url=f"sqlite:///{tmp_path / 'node.db'}", **settings)  # type: ignore[arg-type]


def test_an_unregistered_node_id_refuses_to_start(tmp_path: Path) -> None:
    with pytest.raises(LedgerError, match="node id 'node-1' is not registered on this chain"):
        NodeService(_config(tmp_path))


def test_a_node_without_its_registered_key_refuses_to_start(tmp_path: Path) -> None:
    (tmp_path / "wrong.key").write_text(node_key(2).seed.hex())
    with pytest.raises(LedgerError, match="needs the key registered for node1"):
        NodeService(_config(tmp_path, node_id="node1", node_key_path=tmp_path / "wrong.key"))
    with pytest.raises(LedgerError, match="needs the key registered for node1"):
        NodeService(_config(tmp_path, node_id="node1"))


def test_a_registered_node_signs_its_batches_and_they_commit(tmp_path: Path) -> None:
    with registered_node(tmp_path, 2) as node:
        grant_line(node)
        orderer = node.service.orderer
        batches = orderer.read(0, limit=10, wait_s=0)
        assert batches
        for batch in batches:
            signed = open_batch(batch.data)
            assert signed.node_id == "node1"
            signed.verify(node_key(1).public_key)
        assert node.service.chain.head.height == len(batches)


def test_only_a_registered_node_may_fetch_blocks_for_sync(tmp_path: Path) -> None:
    import secrets

    import httpx

    from client.sdk.http import NodeError
    from ledger.request_auth import HEADER_NODE, RequestToSign, sign_request
    from node.clock import timestamp

    with registered_node(tmp_path, 2) as node:
        path = "/v1/sync/blocks?from=1&limit=5"
        with pytest.raises(NodeError) as refused:
            node.participant("auditor").node.get(path)
        assert refused.value.status == 401
        assert "X-Ledger-Node" in str(refused.value)

        def signed_by(node_id: str, key_index: int) -> httpx.Response:
            request = RequestToSign("test-chain", "node1", "GET", path, timestamp(node.clock),
                                    secrets.token_hex(16), b"")
            headers = sign_request(request, node_id, node_key(key_index),
                                   signer_header=HEADER_NODE)
            return httpx.get(node.url + path, headers=headers)

        assert signed_by("node2", 2).status_code == 200
        forged = signed_by("node2", 3)
        assert forged.status_code == 401 and "does not verify" in forged.text
        unknown = signed_by("node9", 2)
        assert unknown.status_code == 401 and "not a registered node" in unknown.text
