"""The audit on a real network: three nodes, etcd ordering, certificates from a quorum.

Each node's export re-derives to the same chain (signed batches, finality
certificates checked against the registered nodes), and the cross-node
comparison finds every node's checkpoint and block hashes in agreement.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from client.audit import audit_nodes
from tests.node.support import FACE, grant_line, issue_accepted, outputs
from tests.nodes import running_network, wait_until_final, wait_until_level

pytestmark = pytest.mark.etcd


def test_every_node_audits_clean_and_they_all_agree(
    tmp_path: Path, etcd_members: list[Any]
) -> None:
    with running_network(tmp_path, [m.client_url for m in etcd_members]) as nodes:
        line = grant_line(nodes[0])
        wait_until_level(nodes)  # nodes[1] simulates the issue against the line it knows
        root = issue_accepted(nodes[1], line, "s1")
        paid = nodes[2].participant("s1").transfer(root, [(nodes[2].orgs["s2"].uscc, FACE // 4)])
        assert outputs(paid)
        height = wait_until_level(nodes)
        wait_until_final(nodes, height)
        auditors = [n.participant("auditor").node for n in nodes]
        for first in range(len(nodes)):
            order = auditors[first:] + auditors[:first]
            report = audit_nodes(order)
            assert report.passed, [str(f) for f in report.findings]
            assert report.stats.nodes_compared == len(nodes)
            assert report.stats.batches == height
            assert report.stats.final_blocks == height  # every block has a quorum certificate
            assert report.stats.attestations >= 2 * height
            assert report.head_hash == nodes[0].service.chain.head.hash()
