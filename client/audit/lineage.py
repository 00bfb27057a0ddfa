"""A credential's split tree as a picture needs it: notes, who holds them, and what made them.

A node serves a credential with its split tree (`GET /v1/receivables/{id}`):
the credential record and its notes, each naming its parent and the
transaction that created it.  Notes do not say *what* that transaction did or
when, so the edges (split, transfer, finance, settle, with the block date)
come from the transactions themselves when the caller can read them
(`fetch_lineage_tree`); without them the action is inferred from the notes
and the date is left unknown.  The result is plain immutable data, so the
report renderer needs no node and tests can build trees by hand.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from client.sdk.http import NodeClient, NodeError
from ledger.tx import parse_envelope

ACTION_OF_TX = {"accept_terms": "finance", "pay": "settle", "issue": "issue"}


@dataclass(frozen=True)
class LineageNote:
    """One note of a split tree: a piece of the credential held by one organisation."""

    id: str
    parent_id: str | None
    holder: str
    holder_name: str | None
    amount: int  # fen
    currency: str
    status: str
    depth: int
    financed: bool
    frozen: bool
    created_tx: str

    @property
    def holder_label(self) -> str:
        """Return the holder's name if known, else its USCC."""
        return self.holder_name or self.holder


@dataclass(frozen=True)
class LineageEdge:
    """How a parent note became a child: the action and the block date of its transaction."""

    parent: str
    child: str
    action: str  # split, transfer, finance or settle
    date: str | None  # YYYY-MM-DD of the block; None when the transaction was not readable
    tx_id: str


@dataclass(frozen=True)
class LineageTree:
    """A credential (the root issuance) and the notes it split into, parents before children."""

    root_id: str
    issuer: str
    issuer_name: str | None
    face: int  # fen
    currency: str
    issue_date: str
    maturity_date: str
    status: str
    notes: tuple[LineageNote, ...]
    edges: tuple[LineageEdge, ...]

    def children(self, note_id: str) -> tuple[LineageNote, ...]:
        """Return the children of `note_id` in display order."""
        return self._children.get(note_id, ())

    def roots(self) -> tuple[LineageNote, ...]:
        """Return the notes with no parent in the tree (the credential, or orphans of a view)."""
        ids = {n.id for n in self.notes}
        return tuple(n for n in self.notes if n.parent_id is None or n.parent_id not in ids)

    def edge_to(self, note_id: str) -> LineageEdge | None:
        """Return the edge that created `note_id`, if it has a parent in the tree."""
        return self._edges.get(note_id)

    @cached_property
    def _children(self) -> dict[str, tuple[LineageNote, ...]]:
        found: dict[str, list[LineageNote]] = {}
        for note in self.notes:
            if note.parent_id is not None:
                found.setdefault(note.parent_id, []).append(note)
        return {parent: tuple(kids) for parent, kids in found.items()}

    @cached_property
    def _edges(self) -> dict[str, LineageEdge]:
        return {e.child: e for e in self.edges}


@dataclass(frozen=True)
class TxFact:
    """What the tree needs from one transaction: its action, block date and output order."""

    tx_id: str
    action: str  # the contract action, e.g. transfer, accept_terms, pay
    date: str | None
    outputs: tuple[str, ...] = ()  # note ids in the order the transaction created them


def lineage_tree_from_receivable(
    answer: Mapping[str, Any], *, names: Mapping[str, str] | None = None,
    transactions: Mapping[str, TxFact] | None = None,
) -> LineageTree:
    """Build the tree from a `GET /v1/receivables/{id}` answer ({receivable, notes}).

    `names` maps USCC to organisation name; `transactions` maps a creating
    transaction's id to what it did (see `fetch_lineage_tree`).  Raises
    KeyError or TypeError if the answer lacks the documented fields.
    """
    names = names or {}
    facts = transactions or {}
    record = answer["receivable"]
    notes = [_note(n, names) for n in answer["notes"]]
    ordered = _display_order(notes, facts)
    by_id = {n.id: n for n in ordered}
    siblings = Counter(n.parent_id for n in ordered)
    edges = tuple(_edge(by_id[n.parent_id], n, siblings[n.parent_id], facts) for n in ordered
                  if n.parent_id is not None and n.parent_id in by_id)
    return LineageTree(
        root_id=str(record["id"]), issuer=str(record["issuer"]),
        issuer_name=names.get(str(record["issuer"])), face=int(record["face"]),
        currency=str(record["currency"]), issue_date=str(record["issue_date"]),
        maturity_date=str(record["maturity_date"]), status=str(record["status"]),
        notes=tuple(ordered), edges=edges,
    )


def _note(value: Mapping[str, Any], names: Mapping[str, str]) -> LineageNote:
    parent = value["parent_id"]
    return LineageNote(
        id=str(value["id"]), parent_id=None if parent is None else str(parent),
        holder=str(value["holder"]), holder_name=names.get(str(value["holder"])),
        amount=int(value["amount"]), currency=str(value["currency"]),
        status=str(value["status"]), depth=int(value["depth"]),
        financed=bool(value.get("financed", False)), frozen=bool(value.get("frozen", False)),
        created_tx=str(value.get("created_tx", "")),
    )


def _display_order(notes: list[LineageNote], facts: Mapping[str, TxFact]) -> list[LineageNote]:
    """Order notes by depth, then as their transaction created them, then by id."""
    positions = {(tx_id, note_id): index for tx_id, fact in facts.items()
                 for index, note_id in enumerate(fact.outputs)}

    def key(note: LineageNote) -> tuple[int, str, int, str]:
        position = positions.get((note.created_tx, note.id), 0)
        return (note.depth, note.created_tx, position, note.id)

    return sorted(notes, key=key)


def _edge(parent: LineageNote, child: LineageNote, siblings: int,
          facts: Mapping[str, TxFact]) -> LineageEdge:
    fact = facts.get(child.created_tx)
    if fact is None:
        action = _inferred_action(parent, child, siblings)
        return LineageEdge(parent.id, child.id, action, None, child.created_tx)
    if fact.action == "transfer":
        action = "split" if siblings > 1 else "transfer"
    else:
        action = ACTION_OF_TX.get(fact.action, fact.action)
    return LineageEdge(parent.id, child.id, action, fact.date, child.created_tx)


def _inferred_action(parent: LineageNote, child: LineageNote, siblings: int) -> str:
    """Guess the action from the notes alone (no transaction readable)."""
    if child.financed and not parent.financed:
        return "finance"
    if parent.status == "settled":
        return "settle"
    return "split" if siblings > 1 else "transfer"


# -- fetching from a node ---------------------------------------------------------------


def member_names(node: NodeClient) -> dict[str, str]:
    """Return USCC -> organisation name for every member, as the node lists them."""
    return {str(m["uscc"]): str(m["name"]) for m in node.get("/v1/members")["members"]}


class BlockTimes:
    """Block times by height, each header fetched once."""

    def __init__(self, node: NodeClient) -> None:
        self.node = node
        self.times: dict[int, str] = {}

    def time(self, height: int) -> str:
        """Return the UTC timestamp of block `height`."""
        if height not in self.times:
            header = self.node.get(f"/v1/blocks/{height}")["header"]
            self.times[height] = str(header["time"])
        return self.times[height]


def tx_fact(tx: Mapping[str, Any], block_time: str | None) -> TxFact:
    """Return the facts of a `GET /v1/transactions/{id}` answer (envelope and events)."""
    body = parse_envelope(tx["envelope"]).body
    outputs: list[str] = []
    for event in tx.get("events", []):
        outputs += [str(o["note"]) for o in event.get("outputs", []) if "note" in o]
        if "bank_note" in event:
            outputs.append(str(event["bank_note"]))
    date = block_time[:10] if block_time else None
    return TxFact(str(tx["tx_id"]), body.action, date, tuple(outputs))


def fetch_tx_fact(node: NodeClient, tx_id: str, times: BlockTimes) -> tuple[TxFact, bool] | None:
    """Return one transaction's facts and whether the node says it is committed in a block.

    None if the caller may not read it (or nobody knows it).  A committed
    transaction's facts never change; a pending one's date is not known
    yet.  Raises NodeError for any other refusal, or when no node answers.
    """
    try:
        tx = node.get(f"/v1/transactions/{tx_id}")
    except NodeError as exc:
        if exc.status == 404:
            return None
        raise
    height = tx.get("height")
    in_block = isinstance(height, int)
    fact = tx_fact(tx, times.time(height) if in_block else None)
    return fact, in_block and tx.get("status") == "committed"


def fetch_tx_facts(node: NodeClient, tx_ids: Iterable[str]) -> dict[str, TxFact]:
    """Return the facts of the transactions `tx_ids` the caller may read (others left out)."""
    times = BlockTimes(node)
    facts: dict[str, TxFact] = {}
    for tx_id in sorted(set(tx_ids) - {""}):
        fetched = fetch_tx_fact(node, tx_id, times)
        if fetched is not None:
            facts[tx_id] = fetched[0]
    return facts


def fetch_lineage_tree(node: NodeClient, root_id: str) -> LineageTree:
    """Fetch a credential's tree with member names, actions and block dates.

    Transactions the caller may not read (404) leave their edges inferred and
    undated.  Raises NodeError if the credential itself is not visible.
    """
    answer = node.get(f"/v1/receivables/{root_id}")
    facts = fetch_tx_facts(node, (str(n.get("created_tx", "")) for n in answer["notes"]))
    return lineage_tree_from_receivable(answer, names=member_names(node), transactions=facts)
