"""A signed read is bound to the node it is addressed to (finding 7 of the outside test).

Nonces are remembered per node, so a read signed for one node and replayed at
another within the time window used to be accepted there.  The node's id is
now part of what a member signs: the same headers sent to another node of the
same chain do not verify.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from client.sdk.keystore import Identity
from client.sdk.participant import Participant
from tests.node.support import error_of, signed_headers
from tests.nodes import RunningNode, running_node


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningNode, ...]]:
    """Two nodes of one chain (the same genesis), with different node ids."""
    root: Path = tmp_path_factory.mktemp("binding")
    (root / "a").mkdir()
    (root / "b").mkdir()
    with running_node(root / "a", node_id="node-a", verifier_processes=0) as a, \
            running_node(root / "b", node_id="node-b", verifier_processes=0) as b:
        assert a.service.chain.chain_id == b.service.chain.chain_id
        yield a, b


def test_a_read_signed_for_one_node_is_refused_by_another(two_nodes: tuple[RunningNode, ...]
                                                          ) -> None:
    a, b = two_nodes
    headers = signed_headers(a, a.orgs["s1"], "GET", "/v1/status")
    assert httpx.get(a.url + "/v1/status", headers=headers).status_code == 200
    replayed = httpx.get(b.url + "/v1/status", headers=headers)
    code, detail = error_of(replayed, 401)
    assert code == "unauthenticated"
    assert "node-b" in detail  # it says which node it is, so an honest client can tell


def test_each_node_accepts_reads_signed_for_itself(two_nodes: tuple[RunningNode, ...]) -> None:
    for n in two_nodes:
        assert n.participant("s1").status()["node_id"] == n.service.config.node_id


def test_a_client_failing_over_signs_again_for_the_next_node(
    two_nodes: tuple[RunningNode, ...]
) -> None:
    """The SDK signs each attempt for the node it goes to: a fail-over still authenticates."""
    a, b = two_nodes
    org = a.orgs["s1"]
    person = Participant([a.url, b.url], Identity(org.uscc, org.name, org.key), now=a.clock.now)
    assert person.status()["node_id"] == "node-a"
    person.node.urls[0] = "http://127.0.0.1:9"  # node a is gone: nothing listens there now
    assert person.status()["node_id"] == "node-b"
    assert person.node.failovers == 1
