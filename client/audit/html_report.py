"""`ledger audit --html`: the audit's report as an HTML page, with lineage pictures.

The split tree of each credential asked for is drawn from the state the
audit *rebuilt* by re-executing the chain, not from any node's tables, so the
picture shows what the contracts computed.  Only the edges' actions and
dates come from the transactions themselves: read again from the chain file,
or asked from the audited node.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from client.audit.html_page import render_report
from client.audit.lineage import LineageTree, TxFact, lineage_tree_from_receivable, tx_fact
from client.audit.source import StoredBlock, parse_line
from ledger.canonical import JSONValue
from ledger.membership import MEMBER_KEY_PREFIX
from ledger.state import StateCache

FactsOf = Callable[[Iterable[str]], dict[str, TxFact]]


class UnknownReceivable(LookupError):
    """A credential asked for is not on the audited chain."""


def receivable_answer(state: StateCache, root_id: str) -> dict[str, Any]:
    """Return {receivable, notes} for credential `root_id` from a rebuilt state.

    The same shape a node serves at `GET /v1/receivables/{id}` to an
    auditor; raises UnknownReceivable if the chain holds no such credential.
    """
    record = state.get(f"receivable/{root_id}")
    if not isinstance(record, dict):
        raise UnknownReceivable(f"no receivable {root_id} on the audited chain")
    notes = [note for key in state.keys_with_prefix("note/")
             if isinstance(note := state.get(key), dict) and note.get("root_id") == root_id]
    notes.sort(key=lambda n: (int(n.get("depth", 0)), str(n.get("id"))))
    return {"receivable": record, "notes": notes}


def member_names(state: StateCache) -> dict[str, str]:
    """Return USCC -> organisation name for every member in a rebuilt state."""
    names = {}
    for key in state.keys_with_prefix(MEMBER_KEY_PREFIX):
        value: JSONValue = state.get(key)
        if isinstance(value, dict) and isinstance(value.get("name"), str):
            names[key[len(MEMBER_KEY_PREFIX):]] = str(value["name"])
    return names


def file_tx_facts(path: Path, tx_ids: Iterable[str]) -> dict[str, TxFact]:
    """Read the facts of transactions `tx_ids` from a chain file (one more pass over it).

    Rows that do not decode are left out: the audit has reported them.
    """
    wanted = set(tx_ids) - {""}
    facts: dict[str, TxFact] = {}
    with path.open("rb") as handle:
        for raw in handle:
            if len(facts) == len(wanted):
                break
            record = parse_line(raw)
            if record is None or record.get("type") != "block":
                continue
            block = StoredBlock.from_record(record)
            rows = [r for r in block.txs if r.get("id") in wanted]
            if rows:
                facts.update(_facts(block, rows))
    return facts


def _facts(block: StoredBlock, rows: Sequence[Mapping[str, Any]]) -> dict[str, TxFact]:
    facts = {}
    try:
        time = str(orjson.loads(block.row["header"])["time"])  # type: ignore[arg-type]
    except (KeyError, TypeError, ValueError):
        time = None
    for row in rows:
        try:
            tx = {"tx_id": row["id"], "envelope": orjson.loads(row["envelope"]),
                  "events": orjson.loads(row["events"])}
            facts[str(row["id"])] = tx_fact(tx, time)
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
    return facts


def lineages_from_state(state: StateCache, roots: Iterable[str],
                        facts_of: FactsOf) -> dict[str, LineageTree]:
    """Build the trees of credentials `roots`; `facts_of(tx_ids)` supplies edge facts."""
    names = member_names(state)
    trees = {}
    for root in roots:
        answer = receivable_answer(state, root)
        facts = facts_of(str(n.get("created_tx", "")) for n in answer["notes"])
        trees[root] = lineage_tree_from_receivable(answer, names=names, transactions=facts)
    return trees


def write_audit_html(path: Path, report: dict[str, Any], lineages: dict[str, LineageTree]) -> None:
    """Write the audit's human report (findings, statistics, lineage pictures) to `path`."""
    path.write_text(render_report(report, lineages), encoding="utf-8")
