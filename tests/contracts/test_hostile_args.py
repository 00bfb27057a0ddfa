"""Every contract action, fed arbitrary JSON in every argument position, fails cleanly.

The class of the outside test's first finding: a list where a currency
belongs raised TypeError inside the contract (recorded as `internal_error`
in a block, a 500 at submission).  Here each example breaks one valid
transaction of the hostile story (tests/node/hostile.py) and runs it through
the real executor: it is either valid (the break was harmless) or invalid
with a ledger error naming the problem, never an internal error, and an
invalid one changes nothing.  The same generator drives real nodes in
tests/node/test_hostile_transactions.py.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.errors import LedgerError
from tests.builders import MemoryChain, build_tx
from tests.contracts.support import AUDITOR, grant_line, issue, pay_to
from tests.node.hostile import EVERY_ACTION, hostile_args, templates

ERROR_CODES = {cls.code for cls in (LedgerError, *LedgerError.__subclasses__())}


def _story() -> tuple[MemoryChain, dict[str, str]]:
    """Build the hostile story on an in-memory chain; return it and its ids."""
    c = MemoryChain(policies={"freeze_authorities": [AUDITOR]})
    ids = {"line": grant_line(c)}
    ids["pending"] = issue(c, ids["line"])
    ids["root"] = issue(c, ids["line"], trade={
        "contract_no": "PO", "documents": [], "invoices": [
            {"seller": c.uscc("s1"), "number": "INV-R", "amount": 10**8, "allocated": 10**8}]})
    c.ok("s1", "accept", receivable=ids["root"])
    moved = c.ok("s1", "transfer", note=ids["root"], payments=pay_to(c, "s2", 30_000_000))
    ids["s2_note"], ids["s1_note"] = (o["note"] for o in moved.events[0]["outputs"])
    asked = c.ok("s2", "request_financing", note=ids["s2_note"], bank=c.uscc("b1"))
    ids["financing"] = asked.events[0]["financing"]
    offered = c.ok("b1", "offer_terms", financing=ids["financing"], annual_rate_percent="2.00",
                   funding_date="2026-01-05", fees=0, fee_payer="seller", recourse=True)
    ids["terms_hash"] = offered.events[0]["terms_hash"]
    proposed = c.ok("core", "propose", contract="governance", change={
        "kind": "set_policy", "name": "grace_days", "value": 5, "from_height": 10**6})
    ids["proposal"] = proposed.tx_id
    return c, ids


def _fork(chain: MemoryChain) -> MemoryChain:
    """Return a chain that starts where `chain` is and goes its own way (shared keys, executor)."""
    fork = copy.copy(chain)
    fork.state = copy.copy(chain.state)
    fork.state.data = dict(chain.state.data)
    fork.seen, fork.nonces = set(chain.seen), set(chain.nonces)
    return fork


STORY, IDS = _story()
MEMBERS = [o.member().to_json() for o in STORY.orgs.values()]
TEMPLATES = templates(IDS, STORY.uscc, "2026-01-05", MEMBERS)
KNOWN_TEXT = [*IDS.values(), *(o.uscc for o in STORY.orgs.values())]


BEFORE: dict[str, Any] = {  # what must have happened for the template to be valid
    "expire": lambda c: c.advance(days=8),  # past the acceptance window
    "unfreeze": lambda c: c.ok("auditor", "freeze", note=IDS["s1_note"], reason="court order"),
    "confirm_disbursement": lambda c: c.ok("s2", "accept_terms", financing=IDS["financing"],
                                           terms_hash=IDS["terms_hash"]),
    "pay": lambda c: c.advance(days=90),  # maturity
    "mark_overdue": lambda c: c.advance(days=94),  # maturity and the grace period
}


def test_every_action_of_every_contract_has_a_template_and_it_is_valid() -> None:
    """A new action must join the hostile story; each template is valid on its own."""
    assert set(TEMPLATES) == EVERY_ACTION
    for (contract, action), (signers, args) in TEMPLATES.items():
        if action == "genesis":
            continue  # only ever valid in block 0
        chain = _fork(STORY)
        BEFORE.get(action, lambda _c: None)(chain)
        result = chain.tx(signers, action, contract=contract, **args)
        assert result.valid, f"{contract}.{action}: {result.reason}"


@st.composite
def hostile(draw: Any) -> tuple[str, str, list[str], dict[str, Any]]:
    (contract, action) = draw(st.sampled_from(sorted(TEMPLATES)))
    signers, args = TEMPLATES[(contract, action)]
    names = sorted(STORY.orgs)
    if draw(st.integers(0, 9)) == 0:  # now and then a plausible member who may not act
        signers = [draw(st.sampled_from(names))]
    return contract, action, signers, draw(hostile_args(args, KNOWN_TEXT))


@settings(max_examples=1500, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(case=hostile())
def test_a_hostile_transaction_is_valid_or_refused_by_a_rule_never_a_crash(
    case: tuple[str, str, list[str], dict[str, Any]]
) -> None:
    contract, action, signers, args = case
    chain = _fork(STORY)
    before = dict(chain.state.data)
    try:
        envelope = build_tx(chain.orgs, signers, contract, action, args, now=chain.now)
    except LedgerError:
        return  # no canonical body (a float, a huge number): the node refuses it at parse
    result = chain.run_block([envelope])[0]
    assert result.code != "internal_error", f"{contract}.{action} crashed: {result.reason}"
    if not result.valid:
        assert result.code in ERROR_CODES, result.code
        assert result.reason and "\x00" not in result.reason
        assert chain.state.data == before, "an invalid transaction changed the world state"
