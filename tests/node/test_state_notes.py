"""The nodes cosign each block's state note (ledger/state_note.py) with their attestations.

Three of four registered nodes run here over real etcd; the test signs for the
fourth, whose state signature names another digest: its attestation still
counts for finality, but its state signature is left out of the note served.
The audit's cross-node check finds a node whose note no quorum cosigned.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from client.audit import audit_nodes
from ledger.attestation import attest
from ledger.canonical import canonical_bytes
from ledger.crypto import sha256
from ledger.errors import SignatureError
from ledger.signed_note import NoteSignature
from ledger.state_digest import StateDigest
from ledger.state_note import (
    SignedStateNote,
    StateNote,
    check_state_cosigned,
    parse_signed_state_note,
    sign_state_note,
)
from node.ordering.etcd_client import EtcdClient
from tests.etcd import etcd_context
from tests.node.support import grant_line, stored_state
from tests.nodes import node_key, running_network, wait_until_final, wait_until_level

pytestmark = pytest.mark.etcd


def test_a_quorum_cosigns_the_state_note_and_a_wrong_state_signature_is_left_out(
    tmp_path: Path, etcd_members: list[Any]
) -> None:
    urls = [m.client_url for m in etcd_members]
    with running_network(tmp_path, urls, count=3, registered=4) as nodes:
        grant_line(nodes[0])
        height = wait_until_level(nodes)
        header_hash = nodes[0].service.chain.head.hash()
        wrong = StateNote("test-chain", height, header_hash, sha256(b"another state"))
        att = attest(node_key(4), "test-chain", height, header_hash, "node4", None,
                     sign_state_note(wrong, "node4", node_key(4)).signature)
        etcd = EtcdClient(urls, ssl_context=etcd_context())
        etcd.put_if_absent(f"/ledger/test-chain/attest/{height:012d}/node4".encode(),
                           canonical_bytes(att.to_json()))
        etcd.close()
        wait_until_final(nodes, height)
        registered = nodes[0].service.chain.nodes()
        auditor = nodes[1].participant("auditor")
        served = auditor.node.get("/v1/state/digest", {"height": height})
        state = {k: v[0] for k, v in stored_state(nodes[1]).items()}
        assert served["digest"] == StateDigest.of(state.items()).digest().hex()
        signed = parse_signed_state_note(served["state_note"], "test-chain")
        assert signed.note == StateNote("test-chain", height, header_hash,
                                        bytes.fromhex(served["digest"]))
        assert check_state_cosigned(signed, registered) == {"node1", "node2", "node3"}
        assert served["cosigners"] == ["node1", "node2", "node3"]  # node4's is left out
        certificate = auditor.node.get(f"/v1/blocks/{height}/certificate")
        assert {a["node"] for a in certificate["attestations"]} >= {"node4"}  # yet it attested
        auditor.close()
    # A changed digest or signature does not pass as the quorum's.
    forged = SignedStateNote(StateNote("test-chain", height, header_hash, bytes(32)),
                             signed.signatures)
    with pytest.raises(SignatureError, match="does not verify"):
        check_state_cosigned(forged, registered)
    first = signed.signatures[0]
    flipped = NoteSignature(first.name, first.key_id, bytes(64))
    with pytest.raises(SignatureError, match="does not verify"):
        check_state_cosigned(SignedStateNote(signed.note, (flipped, *signed.signatures[1:])),
                             registered)


def test_the_audit_checks_each_nodes_state_note(tmp_path: Path,
                                                 etcd_members: list[Any]) -> None:
    with running_network(tmp_path, [m.client_url for m in etcd_members]) as nodes:
        grant_line(nodes[0])
        height = wait_until_level(nodes)
        wait_until_final(nodes, height)
        auditors = [n.participant("auditor").node for n in nodes]
        clean = audit_nodes(auditors)
        assert clean.passed, [str(f) for f in clean.findings]
        with sqlite3.connect(tmp_path / "node2" / "node.db") as db:  # node2 now names another state
            db.execute("UPDATE state_digests SET digest = ? WHERE height = ?", (bytes(32), height))
        report = audit_nodes(auditors)
        for auditor in auditors:  # an open keep-alive connection holds a node's shutdown 10 s
            auditor.close()
    notes = [f for f in report.findings if f.check == "state_note"]
    assert [(f.block, nodes[1].url in f.message) for f in notes] == [(height, True)]
    assert "cosigned by nodes of 1 organisation(s); a quorum is 2" in notes[0].message
    assert {f.check for f in report.findings} == {"state_note", "state_digest"}
