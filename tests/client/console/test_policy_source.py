"""The console warns by the policies the node holds now, not by the genesis's.

A node founded with a tenor review threshold of 120 days, and the core
enterprise's console as a process.  The issuance page first warns by 120;
after a governance change to 90 days takes effect on the node, a 100-day
tenor is warned of, by 90 (the genesis still says 120).  A member admitted
later, which may not read the genesis, gets the node's policies too, not
the contracts' defaults.  The bank's due diligence tells a credential's
tenor by its flag and its days, never by the default threshold of 183.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from client.console.policy import policies
from client.sdk.keystore import Identity
from client.sdk.participant import Participant
from ledger.membership import Role, make_uscc
from tests.builders import START, Org, key_for
from tests.client.console.support import (
    Browserless,
    Running,
    org_console_settings,
    running_console,
)
from tests.node.support import grant_line, issue_args
from tests.nodes import RunningNode, running_node

FOUNDED = {"review_tenor_days": 120,
           "governance_approval_percent": 1}  # each proposal passes on its proposer's approval
TODAY = START.date()  # the node's manual clock stands still: the ledger date


@dataclass
class Core:
    """The node, the core enterprise's console, and its credit line."""

    node: RunningNode
    console: Running
    line: str


@pytest.fixture
def core(tmp_path: Path) -> Iterator[Core]:
    (tmp_path / "node").mkdir()
    with running_node(tmp_path / "node", policies=FOUNDED, verifier_processes=0) as node:
        line = grant_line(node)
        with running_console(org_console_settings(node, tmp_path, "core")) as console:
            yield Core(node, console, line)


def _issue_form(core: Core, days: int, number: str) -> dict[str, str]:
    return {"to": core.node.orgs["s1"].uscc, "credit_line": core.line,
            "maturity_date": (TODAY + timedelta(days=days)).isoformat(),
            "contract_no": f"PO-{number}", "invoice_0": f"INV-{number}",
            "invoice_amount_0": "1,000.00"}


def _warning(maker: Browserless, form: dict[str, str]) -> str | None:
    """Post the issuance form; return the tenor warning's text, or None if it was prepared."""
    answer = maker.post("/issue", form, token_from="/issue")
    assert answer.status_code == 200, answer.text
    if 'id="tenor-warning"' not in answer.text:
        assert answer.url.path == "/approvals", answer.url
        return None
    return html.unescape(answer.text.split('id="tenor-warning"><p>', 1)[1].split("</p>", 1)[0])


def _change_review_days(node: RunningNode, days: int) -> None:
    """Have governance set review_tenor_days to `days` and commit blocks until it applies."""
    takes_effect = node.service.chain.head.height + 2
    proposer = node.participant("core")
    try:
        [event] = proposer.act("propose", contract="governance", change={
            "kind": "set_policy", "name": "review_tenor_days", "value": days,
            "from_height": takes_effect})["events"]
        assert event["executed"] is True
    finally:
        proposer.close()
    while node.service.chain.head.height < takes_effect:
        grant_line(node)


def test_the_tenor_warning_follows_a_governance_change(core: Core) -> None:
    maker = Browserless(core.console.url)
    try:
        maker.log_in("mia")
        assert "A tenor over 120 days needs a bank" in maker.http.get("/issue").text
        assert _warning(maker, _issue_form(core, 100, "A")) is None
        assert "130 days, over the policy's 120" in str(_warning(maker, _issue_form(core, 130,
                                                                                  "B")))
        _change_review_days(core.node, 90)
        assert "A tenor over 90 days needs a bank" in maker.http.get("/issue").text
        assert "100 days, over the policy's 90" in str(_warning(maker, _issue_form(core, 100,
                                                                                 "C")))
    finally:
        maker.close()


def test_a_member_that_may_not_read_the_genesis_gets_the_nodes_policies(core: Core) -> None:
    newcomer = Org("s5", make_uscc("91310000MA0000050"), frozenset({Role.SUPPLIER}),
                   key_for("s5"))
    proposer = core.node.participant("core")
    late = Participant(core.node.url, Identity(newcomer.uscc, "s5", newcomer.key),
                       now=core.node.clock.now)
    try:
        proposer.act("propose", contract="governance", change={
            "kind": "add_member", "member": newcomer.member().to_json()})
        assert policies(late)["review_tenor_days"] == 120  # the node's, not the default 183
    finally:
        proposer.close()
        late.close()



def _long_tenor_financing(node: RunningNode, days: int) -> str:
    """Have core issue s1 a credential of `days` days, s1 accept it and ask b1 to finance it."""
    core, s1 = node.participant("core"), node.participant("s1")
    try:
        args = {**issue_args(node, grant_line(node), "s1"),
                "maturity_date": (TODAY + timedelta(days=days)).isoformat()}
        root = str(core.act("issue", **args)["events"][0]["receivable"])
        assert core.receivable(root)["receivable"]["long_tenor"] is True
        s1.accept(root)
        asked = s1.request_financing(root, node.orgs["b1"].uscc)
        return str(asked["events"][0]["financing"])
    finally:
        core.close()
        s1.close()


def test_the_banks_due_diligence_tells_the_tenor_by_its_days_not_the_default(
        tmp_path: Path) -> None:
    (tmp_path / "node").mkdir()
    with running_node(tmp_path / "node", policies=FOUNDED, verifier_processes=0) as node:
        financing = _long_tenor_financing(node, 150)  # over the chain's 120, under 183
        with running_console(org_console_settings(node, tmp_path, "b1")) as console:
            banker = Browserless(console.url)
            try:
                banker.log_in("mia")
                page = html.unescape(banker.http.get(f"/financings/{financing}").text)
            finally:
                banker.close()
    assert "150 days, past the review threshold when issued" in page
    assert "183" not in page
