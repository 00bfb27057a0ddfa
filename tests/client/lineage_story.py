"""A small real chain whose credential is split, transferred, financed and partly paid.

Built over HTTP on a node from `tests.nodes.running_node`, so the report and
trace tests see exactly what a node serves:

    root (s1, 1,000,000.00) --split--> s2 400,000.00 --transfer--> s4 --settle--> s4 rest
                                       s3 250,000.00 --settle--> s3 rest
                                       s1 350,000.00 --finance--> b1 --settle--> b1 rest

The core enterprise pays half at maturity, so every leaf is cleared pro rata
and leaves an unpaid rest note.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from ledger.crypto import sha256_hex
from tests.node.support import FACE, issue_args, outputs
from tests.nodes import RunningNode

DOCUMENT = {"name": "purchase order PO-1.pdf", "sha256": sha256_hex(b"purchase order PO-1")}


@dataclass(frozen=True)
class StoryChain:
    """The credential's id and its notes and transactions by name."""

    root: str
    notes: dict[str, str]
    txs: dict[str, str]


def build_story_chain(n: RunningNode, *, settle: bool = True) -> StoryChain:
    """Play the story on `n`; return the ids.

    With `settle` the node's clock moves 90 days to maturity and the core
    enterprise pays half; without, the clock stays put (so a client signing
    with the system clock can still talk to the node) and nothing is settled.
    """
    people = {name: n.participant(name) for name in ("core", "s1", "s2", "b1")}
    uscc = {name: org.uscc for name, org in n.orgs.items()}

    def later(days: int) -> None:
        if settle:
            n.clock.advance(days=days)

    try:
        today = n.clock.now().date()
        line = people["core"].cosign(people["b1"].propose_credit_line(
            core=uscc["core"], limit=FACE, currency="CNY",
            expiry_date=(today + timedelta(days=360)).isoformat()))
        granted = people["b1"].submit([line.envelope()])[0]
        args = issue_args(n, people["b1"].transaction(granted["tx_id"])["events"][0]["credit_line"])
        args["trade"]["documents"] = [DOCUMENT]
        args["maturity_date"] = (today + timedelta(days=90)).isoformat()
        root = people["core"].act("issue", **args)["events"][0]["receivable"]
        people["s1"].accept(root)
        split = people["s1"].transfer(root, [(uscc["s2"], 40_000_000), (uscc["s3"], 25_000_000)])
        held = outputs(split)
        later(2)
        moved = people["s2"].transfer(held[uscc["s2"]], [(uscc["s4"], 40_000_000)])
        later(3)
        requested = people["s1"].request_financing(held[uscc["s1"]], uscc["b1"])
        financing = requested["events"][0]["financing"]
        offered = people["b1"].offer_terms(financing, annual_rate_percent="2.00",
                                           funding_date=n.clock.now().date().isoformat())
        financed = people["s1"].accept_terms(financing, offered["events"][0]["terms_hash"])
        people["b1"].confirm_disbursement(financing, "B1-PAY-1")
        if settle:
            n.clock.advance(days=85)
            paid = people["core"].pay(root, 50_000_000, "CORE-TT-1")
    finally:
        for person in people.values():
            person.close()
    notes = {"root": root, "s2": held[uscc["s2"]], "s3": held[uscc["s3"]],
             "s1": held[uscc["s1"]], "s4": outputs(moved)[uscc["s4"]],
             "b1": financed["events"][0]["bank_note"]}
    txs = {"split": split["tx_id"], "transfer": moved["tx_id"], "finance": financed["tx_id"]}
    if not settle:
        return StoryChain(root, notes, txs)
    rests = {n.service.chain.state.get(f"note/{i}")["holder"]: i  # type: ignore[index]
             for i in _rest_notes(n, paid["tx_id"])}
    notes.update(s4_rest=rests[uscc["s4"]], s3_rest=rests[uscc["s3"]],
                 b1_rest=rests[uscc["b1"]])
    return StoryChain(root, notes, {**txs, "pay": paid["tx_id"]})


def _rest_notes(n: RunningNode, pay_tx: str) -> list[str]:
    rows = n.service.store.notes_where(limit=1000)
    return [r.id for r in rows
            if n.service.chain.state.get(f"note/{r.id}")["created_tx"] == pay_tx]  # type: ignore[index]
