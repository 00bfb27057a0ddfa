"""Governance through a node: a re-keyed and an added member act with their keys, and
the independent audit follows those membership changes.
"""

from __future__ import annotations

from pathlib import Path

from client.audit import audit_node
from client.sdk.keystore import Identity
from client.sdk.participant import Participant
from ledger.membership import Role, make_uscc
from tests.builders import Org, key_for
from tests.nodes import running_node

FAR = 10**6  # a policy version that never takes effect in these tests


def _policy_change(value: int) -> dict[str, object]:
    return {"kind": "set_policy", "name": "grace_days", "value": value, "from_height": FAR}


def test_rekeyed_and_added_members_sign_with_their_keys_and_the_audit_passes(
    tmp_path: Path,
) -> None:
    policies = {"governance_approval_percent": 1}  # each proposer decides alone
    with running_node(tmp_path, policies=policies) as n:
        core, auditor = n.participant("core"), n.participant("auditor")
        newcomer = Org("s5", make_uscc("91310000MA0000050"), frozenset({Role.SUPPLIER}),
                       key_for("s5"))
        new_key = key_for("s1 re-keyed")
        s1 = Participant(n.url, Identity(n.orgs["s1"].uscc, "s1", new_key), now=n.clock.now)
        s5 = Participant(n.url, Identity(newcomer.uscc, "s5", newcomer.key), now=n.clock.now)
        try:
            core.act("propose", contract="governance", change={
                "kind": "rekey_member", "uscc": s1.uscc, "public_key": new_key.public_key.hex()})
            core.act("propose", contract="governance", change={
                "kind": "add_member", "member": newcomer.member().to_json()})
            assert s1.act("propose", contract="governance",
                          change=_policy_change(4))["events"][0]["executed"] is True
            assert s5.act("propose", contract="governance",
                          change=_policy_change(5))["events"][0]["executed"] is True
            report = audit_node(auditor.node)
            assert report.passed, report.findings
            assert report.stats.blocks == n.service.chain.head.height + 1
        finally:
            for person in (core, auditor, s1, s5):
                person.close()
