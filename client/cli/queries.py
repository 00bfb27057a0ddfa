"""The read-only commands of the `ledger` command line: what the node shows this participant.

Chain status, the policies in force, the notes you hold, one note, a
credential with its split tree drawn, a note's lineage, a transaction, and a
local check that a transaction is in the node's log (an RFC 9162 inclusion
proof).  The node
shows each participant only what it may see; ids may be given by a unique
prefix of 8 or more hex characters.
"""

from __future__ import annotations

import json
from typing import Any

from rich.console import Group
from rich.text import Text

from client.cli.common import describe_events, names, participant, record, show
from client.cli.lists import LIVE_NOTES
from client.cli.render import (
    POLICY_LABELS,
    credential_view,
    fields,
    lineage_lines,
    note_view,
    notes_table,
    policy_words,
    split_tree,
)


def status() -> None:
    """Show the node's chain status: height, final height, time, pending, ordering."""
    answer = participant().status()
    ordering = "available" if answer.get("ordering_available") else (
        f"UNAVAILABLE: {answer.get('ordering_problem')}")
    show(answer, fields([
        ("chain", answer["chain_id"]),
        ("node", answer["node_id"]),
        ("height", str(answer["height"])),
        ("final height", str(answer["final_height"])),
        ("head hash", answer["head_hash"]),
        ("log size", str(answer["log_size"])),
        ("node time", answer["time"]),
        ("pending", f"{answer['pending']} of at most {answer['pending_limit']}"),
        ("ordering", ordering),
        ("DIVERGED", str(answer["diverged"]) if answer.get("diverged") else None),
        ("CODE MISMATCH", str(answer["contract_code_mismatch"])
         if answer.get("contract_code_mismatch") else None),
    ]))


def policies() -> None:
    """Show the consortium's policies in force at the node's head, and those scheduled."""
    answer = participant().policies()
    who = names()
    lines = [("as of block", str(answer.height))]
    lines += [(POLICY_LABELS.get(name, name), _since(policy_words(name, version.value, who),
                                                     version.from_height))
              for name, version in sorted(answer.in_force.items(), key=_label_order)]
    lines += [(f"from block {v.from_height}", f"{POLICY_LABELS.get(v.name, v.name)}: "
               f"{policy_words(v.name, v.value, who)}") for v in answer.scheduled]
    show(answer.to_json(), fields(lines))


def _label_order(item: tuple[str, object]) -> tuple[int, str]:
    """Order policies as POLICY_LABELS lists them (splits, tenor, ...), any new one last."""
    order = list(POLICY_LABELS)
    return (order.index(item[0]) if item[0] in order else len(order), item[0])


def _since(words: str, from_height: int) -> str:
    return words if from_height == 0 else f"{words} (since block {from_height})"


def holdings() -> None:
    """List the notes you hold (active, pending acceptance or under a financing request)."""
    me = participant()
    found = [n for n in me.notes(holder=me.uscc) if n["status"] in LIVE_NOTES]
    show(found, notes_table(found, names()) if found else "no notes", [n["id"] for n in found])


def note(note_id: str) -> None:
    """Show one note: amount, holder, issuer, status, maturity, parent."""
    shown = participant().note(record(note_id, "note"))
    show(shown, note_view(shown, names()))


def receivable(root_id: str) -> None:
    """Show a credential and its split tree (the branches you may see)."""
    answer = participant().receivable(record(root_id, "receivable"))
    who = names()
    show(answer, Group(Text(credential_view(answer["receivable"], who)), Text(""),
                       split_tree(answer["receivable"], answer["notes"], who)))


def lineage(note_id: str) -> None:
    """Show a note's ancestors up to issuance."""
    line = participant().lineage(record(note_id, "note"))
    show(line, lineage_lines(line, names()))


def tx(tx_id: str) -> None:
    """Show a transaction: status, block, signers, action and what it did."""
    answer = participant().transaction(record(tx_id, "tx"))
    show(answer, _tx_text(answer))


def _tx_text(answer: dict[str, Any]) -> str:
    raw = (answer.get("envelope") or {}).get("body")
    body = json.loads(raw) if isinstance(raw, str) else {}
    who = names()
    text = fields([
        ("transaction", answer["tx_id"]),
        ("status", str(answer.get("status"))),
        ("block", str(answer.get("height")) if answer.get("height") is not None else None),
        ("action", f"{body.get('contract')}.{body.get('action')}" if body else None),
        ("signed by", ", ".join(who.org(s) for s in body.get("signers", [])) or None),
        ("refused", f"{answer.get('code')}: {answer.get('reason')}"
         if answer.get("valid") is False else None),
    ])
    events = describe_events(answer.get("events") or [])
    return text + "".join(f"\n  {line}" for line in events)


def verify(tx_id: str) -> None:
    """Verify locally that a transaction is in the node's log (RFC 9162 proof)."""
    full = record(tx_id, "tx")
    participant().verify_inclusion(full)
    show({"tx_id": full, "included": True}, f"verified: {full} is in the log")
