"""What I have: `ledger members`, `credentials`, `notes`, `financings` and `credit-lines`.

Each lists what the node lets this organisation see, as a table, with
filters.  Every organisation filter takes
a USCC, an alias or a name; JSON output (--json) keeps the node's fen.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import typer

from client.cli.common import Settings, names, org, participant, show
from client.cli.render import notes_table, short, table, yuan
from client.cli.resolve import consortium_aliases
from ledger.errors import LedgerError
from ledger.timefmt import parse_date

NOTE_STATUSES = ("pending", "active", "financing", "spent", "settled", "void")
LIVE_NOTES = ("active", "pending", "financing")
CREDENTIAL_STATUSES = ("pending", "active", "rejected", "withdrawn", "expired", "paid", "overdue")
FINANCING_STATUSES = ("requested", "offered", "accepted", "disbursed", "cancelled")
Counterparty = Annotated[str | None, typer.Option(
    help="only with this organisation (USCC, alias or name)")]
MaturityFrom = Annotated[str | None, typer.Option(help="maturity on or after YYYY-MM-DD")]
MaturityTo = Annotated[str | None, typer.Option(help="maturity on or before YYYY-MM-DD")]
Limit = Annotated[int, typer.Option(min=1, max=10_000, help="at most this many")]


def one_of(value: str | None, allowed: Sequence[str], what: str) -> str | None:
    """Return `value` if it is one of `allowed` (or None); else say which are."""
    if value is not None and value not in allowed:
        raise typer.BadParameter(f"{what} {value!r} is not one of: {', '.join(allowed)}")
    return value


def _date(text: str | None, what: str) -> str | None:
    """Return a date the user typed, checked (YYYY-MM-DD), or None."""
    if text is None:
        return None
    try:
        return parse_date(text, what=what).isoformat()
    except LedgerError as exc:
        raise typer.BadParameter(str(exc)) from exc


def _range(first: str | None, last: str | None, what: str = "maturity"
           ) -> dict[str, str | None]:
    """Return the node's maturity_from/maturity_to filters from two typed dates."""
    low, high = _date(first, f"--{what}-from"), _date(last, f"--{what}-to")
    if low and high and low > high:
        raise typer.BadParameter(f"--{what}-from {low} is after --{what}-to {high}")
    return {"maturity_from": low, "maturity_to": high}


def _counterparty(text: str | None) -> str | None:
    return None if text is None else org(text, "--counterparty")


# -- lists ------------------------------------------------------------------------------


def members() -> None:
    """List the consortium's members: names, USCCs, roles (and aliases, in a local consortium)."""
    everyone = participant().members()
    aliases = {uscc: alias for alias, uscc in consortium_aliases(Settings.keystore).items()}
    show(everyone, table(None, ("name", "USCC", "roles", "status", "alias"), (
        (m["name"], m["uscc"], ", ".join(m["roles"]), m.get("status", "active"),
         aliases.get(m["uscc"], "")) for m in sorted(everyone, key=lambda m: m["name"]))),
         [m["uscc"] for m in everyone])


def credentials(
    role: Annotated[str | None, typer.Option(
        help="issued (by you) or held (now or before, by you); default both")] = None,
    status: Annotated[str | None, typer.Option(
        help=f"only this status: {', '.join(CREDENTIAL_STATUSES)}")] = None,
    counterparty: Counterparty = None, maturity_from: MaturityFrom = None,
    maturity_to: MaturityTo = None, limit: Limit = 1000,
) -> None:
    """List credentials you issued or hold pieces of, by maturity."""
    one_of(role, ("issued", "held"), "--role")
    one_of(status, CREDENTIAL_STATUSES, "--status")
    found = participant().receivables(role=role, status=status,
                                      counterparty=_counterparty(counterparty),
                                      **_range(maturity_from, maturity_to), limit=limit)
    who = names()
    show(found, table(None, ("credential", "face", "issuer", "first holder", "status",
                             "matures"), (
        (short(r["id"]), yuan(r["face"], r["currency"]), who.name(r["issuer"]),
         who.name(r["first_holder"]), str(r["status"]), r["maturity_date"]) for r in found),
        right=("face",)) if found else "no credentials", [r["id"] for r in found])


def notes(
    status: Annotated[str | None, typer.Option(
        help=f"only this status: {', '.join(NOTE_STATUSES)}")] = None,
    issuer: Annotated[str | None, typer.Option(
        help="only notes of this issuer (USCC, alias or name)")] = None,
    maturity_from: MaturityFrom = None, maturity_to: MaturityTo = None,
    every: Annotated[bool, typer.Option(
        "--all", help="also notes spent, settled or void (default: live ones)")] = False,
    limit: Limit = 1000,
) -> None:
    """List the notes you hold: live ones (active, pending, under financing) by default."""
    one_of(status, NOTE_STATUSES, "--status")
    me = participant()
    found = me.notes(holder=me.uscc, issuer=None if issuer is None else org(issuer, "--issuer"),
                     status=status, **_range(maturity_from, maturity_to), limit=limit)
    if status is None and not every:
        found = [n for n in found if n["status"] in LIVE_NOTES]
    show(found, notes_table(found, names()) if found else "no notes", [n["id"] for n in found])


def financings(
    status: Annotated[str | None, typer.Option(
        help=f"only this status: {', '.join(FINANCING_STATUSES)}")] = None,
    counterparty: Counterparty = None, maturity_from: MaturityFrom = None,
    maturity_to: MaturityTo = None, limit: Limit = 1000,
) -> None:
    """List financings you asked for or were asked to give."""
    one_of(status, FINANCING_STATUSES, "--status")
    found = participant().financings(status=status, counterparty=_counterparty(counterparty),
                                     **_range(maturity_from, maturity_to), limit=limit)
    who = names()
    show(found, table(None, ("financing", "status", "seller", "bank", "note amount",
                             "net proceeds", "matures"), (
        (short(f["id"]), str(f["status"]), who.name(f["seller"]), who.name(f["bank"]),
         _note_amount(f), yuan(f["terms"]["net_proceeds"]) if f.get("terms") else "-",
         _note_field(f, "maturity_date")) for f in found),
        right=("note amount", "net proceeds")) if found else "no financings",
        [f["id"] for f in found])


def _note_of(financing: dict[str, Any]) -> dict[str, Any] | None:
    """Return the financed note's record served with a financing, if the node sent it."""
    for key in ("note", "note_record"):
        if isinstance(financing.get(key), dict):
            return financing[key]  # type: ignore[no-any-return]
    return None


def _note_amount(financing: dict[str, Any]) -> str:
    note = _note_of(financing)
    return "-" if note is None else yuan(note["amount"], note["currency"])


def _note_field(financing: dict[str, Any], name: str) -> str:
    note = _note_of(financing)
    return "-" if note is None else str(note[name])


def credit_lines(
    counterparty: Counterparty = None,
    expiry_from: Annotated[str | None, typer.Option(help="expiring on or after YYYY-MM-DD")]
    = None,
    expiry_to: Annotated[str | None, typer.Option(help="expiring on or before YYYY-MM-DD")]
    = None, limit: Limit = 1000,
) -> None:
    """List the credit lines you granted or were granted: limit, used, headroom, expiry."""
    found = participant().credit_lines(counterparty=_counterparty(counterparty),
                                       **_range(expiry_from, expiry_to, "expiry"), limit=limit)
    who = names()
    show(found, table(None, ("credit line", "bank", "core enterprise", "limit", "used",
                             "headroom", "expires"), (
        (short(c["id"]), who.name(c["bank"]), who.name(c["core"]),
         yuan(c["limit"], c["currency"]), yuan(c["used"], c["currency"]),
         yuan(c["limit"] - c["used"], c["currency"]), c["expiry_date"]) for c in found),
        right=("limit", "used", "headroom")) if found else "no credit lines",
        [c["id"] for c in found])
