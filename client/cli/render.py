"""How the `ledger` command line shows things to a person: yuan, names, tables and trees.

The node answers in JSON with integer fen and bare USCCs; a person reads
"1,000,000.00 CNY", "苏州精密部件有限公司 (Suzhou Precision)" and a drawn
split tree.  Everything here turns one answer into rich renderables or
lines of text; `--json` bypasses it and prints the node's answer as it is
(fen kept).  Organisation names come from a `Directory` of the members,
fetched once per command; those three helpers live in client/sdk/names.py,
shared with the web console.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from client.sdk.names import SHORT_ID, Directory, Record, short, yuan
from ledger.money import format_fen

__all__ = ["SHORT_ID", "Directory", "Record", "short", "yuan"]  # shared with the console


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[str]],
          *, right: Iterable[str] = ()) -> Table:
    """Return a table with `columns` (those named in `right` right-aligned, e.g. amounts)."""
    aligned = set(right)
    grid = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    for column in columns:
        grid.add_column(column, justify="right" if column in aligned else "left",
                        overflow="fold")
    for row in rows:
        grid.add_row(*row)
    return grid


def fields(pairs: Iterable[tuple[str, str | None]]) -> str:
    """Return "label: value" lines, aligned, skipping values that are None."""
    shown = [(label, value) for label, value in pairs if value is not None]
    width = max((len(label) for label, _ in shown), default=0)
    return "\n".join(f"{label + ':':<{width + 1}} {value}" for label, value in shown)


# -- notes and credentials -------------------------------------------------------------


def note_flags(note: Record) -> str:
    """Return a note's status with its frozen and financed marks."""
    marks = [str(note["status"])]
    if note.get("financed"):
        marks.append("financed")
    if note.get("frozen"):
        marks.append("FROZEN")
    return ", ".join(marks)


def note_view(note: Record, names: Directory) -> str:
    """Return one note in words."""
    return fields([
        ("note", note["id"]),
        ("amount", yuan(note["amount"], note["currency"])),
        ("holder", names.org(note["holder"])),
        ("issuer", names.org(note["issuer"])),
        ("status", note_flags(note)),
        ("matures", note["maturity_date"]),
        ("credential", note["root_id"]),
        ("parent", note["parent_id"]),
        ("financing", note.get("financing")),
    ])


def notes_table(notes: Sequence[Record], names: Directory, title: str | None = None) -> Table:
    """Return notes as a table: id, amount, holder, issuer, status, maturity."""
    return table(title, ("note", "amount", "holder", "issuer", "status", "matures"), (
        (short(n["id"]), yuan(n["amount"], n["currency"]), names.name(n["holder"]),
         names.name(n["issuer"]), note_flags(n), n["maturity_date"]) for n in notes),
        right=("amount",))


def credential_view(record: Record, names: Directory) -> str:
    """Return a credential's record in words (what the viewer may see of it)."""
    trade = record.get("trade") or {}
    invoices = ", ".join(f"{i['number']} ({format_fen(i['allocated'])} of "
                         f"{format_fen(i['amount'])})" for i in trade.get("invoices", []))
    paid = record.get("paid")
    return fields([
        ("credential", record["id"]),
        ("face", yuan(record["face"], record["currency"])),
        ("issuer", names.org(record["issuer"])),
        ("first holder", names.org(record["first_holder"])),
        ("status", str(record["status"])),
        ("issued", record["issue_date"]),
        ("accept by", record["accept_by"] if record["status"] == "pending" else None),
        ("matures", record["maturity_date"]),
        ("paid", None if paid is None else yuan(paid, record["currency"])),
        ("credit line", record["credit_line"]),
        ("contract", trade.get("contract_no")),
        ("invoices", invoices or None),
        ("long tenor", "yes: a bank must review it before financing"
         if record.get("long_tenor") else None),
    ])


def split_tree(record: Record, notes: Sequence[Record], names: Directory) -> Tree:
    """Return a credential's split tree: each note under its parent, amounts and holders."""
    tree = Tree(Text(f"credential {short(record['id'])}  {yuan(record['face'], record['currency'])}"
                     f"  {record['status']}, matures {record['maturity_date']}"))
    children: dict[str | None, list[Record]] = {}
    for note in notes:
        children.setdefault(note["parent_id"], []).append(note)
    known = {n["id"] for n in notes}

    def grow(branch: Tree, parent: str | None) -> None:
        for note in sorted(children.get(parent, ()), key=lambda n: n["id"]):
            label = (f"{short(note['id'])}  {yuan(note['amount'], note['currency'])}  "
                     f"{names.name(note['holder'])}  [{note_flags(note)}]")
            grow(branch.add(Text(label)), note["id"])

    grow(tree, None)
    for orphan_parent in sorted(p for p in children if p is not None and p not in known):
        grow(tree, orphan_parent)  # a branch whose ancestors the viewer may not see
    return tree


def lineage_lines(line: Sequence[Record], names: Directory) -> str:
    """Return a note's ancestry, the note first, each step a line."""
    lines = []
    for depth, note in enumerate(line):
        arrow = "" if depth == 0 else "  " * (depth - 1) + "└ from "
        lines.append(f"{arrow}{short(note['id'])}  {yuan(note['amount'], note['currency'])}  "
                     f"held by {names.name(note['holder'])}  [{note_flags(note)}]")
    if line:
        lines.append(f"issued by {names.org(line[-1]['issuer'])}, matures "
                     f"{line[-1]['maturity_date']}")
    return "\n".join(lines)


# -- financing and credit lines --------------------------------------------------------


def terms_lines(terms: Record) -> str:
    """Return the priced terms of a financing offer, one fact a line."""
    return fields([
        ("face", yuan(terms["face"])),
        ("rate", f"{terms['annual_rate_percent']} % a year (ACT/360)"),
        ("days", f"{terms['days']} (from {terms['funding_date']} to maturity)"),
        ("interest", yuan(terms["interest"])),
        ("fees", f"{yuan(terms['fees'])} (paid by the {terms['fee_payer']})"),
        ("net proceeds", yuan(terms["net_proceeds"])),
        ("recourse", "with recourse" if terms["recourse"] else "without recourse"),
        ("registry no", terms.get("registry_no")),
    ])


def financing_view(record: Record, names: Directory) -> str:
    """Return a financing in words, with the terms on offer if any."""
    note = record.get("note")
    text = fields([
        ("financing", record["id"]),
        ("status", str(record["status"])),
        ("seller", names.org(record["seller"])),
        ("bank", names.org(record["bank"])),
        ("note", record["note"] if isinstance(record["note"], str) else note and note["id"]),
        ("payment ref", record.get("payment_ref")),
    ])
    if record.get("terms"):
        text += f"\n\nterms on offer:\n{terms_lines(record['terms'])}"
        text += f"\nterms hash:   {record['terms_hash']}"
    return text


def credit_line_view(record: Record, names: Directory) -> str:
    """Return a credit line in words: limit, used and headroom."""
    currency = record["currency"]
    return fields([
        ("credit line", record["id"]),
        ("bank", names.org(record["bank"])),
        ("core", names.org(record["core"])),
        ("limit", yuan(record["limit"], currency)),
        ("used", yuan(record["used"], currency)),
        ("headroom", yuan(record["limit"] - record["used"], currency)),
        ("expires", record["expiry_date"]),
    ])


# -- policies ---------------------------------------------------------------------------

POLICY_LABELS = {
    "min_split_amount": "smallest split piece",
    "max_children": "most pieces from one split",
    "max_split_depth": "deepest split",
    "review_tenor_days": "bank review needed past",
    "acceptance_days": "time to accept a credential",
    "grace_days": "grace after maturity",
    "block_issuance_when_overdue": "issuing while overdue",
    "freeze_authorities": "freeze authorities",
    "max_annual_rate_bp": "highest financing rate",
    "governance_approval_percent": "governance passes with",
}


def policy_words(name: str, value: object, names: Directory) -> str:
    """Return a policy's value in words ("100.00", "183 days", "24.00 % a year", ...)."""
    if isinstance(value, bool):
        return ("blocked" if value else "allowed") if name == "block_issuance_when_overdue" \
            else ("yes" if value else "no")
    if isinstance(value, tuple | list):
        return ", ".join(names.org(str(v)) for v in value) or "none"
    if not isinstance(value, int):
        return repr(value)
    words = {
        "min_split_amount": f"{format_fen(value)} (in the credential's currency)",
        "max_children": f"{value} pieces, the remainder included",
        "max_split_depth": f"{value} levels of splits below the issued note",
        "review_tenor_days": f"a tenor of {value} days",
        "acceptance_days": f"{value} days",
        "grace_days": f"{value} days",
        "max_annual_rate_bp": f"{format_fen(value)} % a year",
        "governance_approval_percent": f"approvals from more than {value} % of active members",
    }
    return words.get(name, str(value))
