"""`ledger inbox`: what awaits this organisation, each item with the command that acts on it.

The node answers the items (credentials to accept, financing requests to
price, offers to accept, disbursements to confirm, payments falling due,
overdue items, and what this organisation waits for from others), each with
its kind, id, other party, amount in fen, date and record.  Here each
becomes three lines a person can act on: the date, what it is and the
amount; the facts that decide it (who, the terms, the deadline); and the
command to run next.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.console import Group, RenderableType
from rich.text import Text

from client.cli.common import names, participant, show
from client.cli.render import Directory, short, yuan
from ledger.money import format_fen

Item = dict[str, Any]
TO_DO = {
    "credential_to_accept": "credential to accept or reject",
    "financing_request": "financing request to price",
    "offer_to_accept": "financing offer to accept",
    "disbursement_to_confirm": "disbursement to confirm",
    "payment_due": "payment falling due",
    "overdue": "OVERDUE",
}
WAITING = {
    "awaiting_acceptance": "credential awaiting the supplier's acceptance",
    "awaiting_offer": "financing request awaiting the bank's terms",
    "awaiting_disbursement": "accepted financing awaiting the bank's disbursement",
}
INDENT = " " * 12


def inbox(within_days: Annotated[int, typer.Option(
        min=1, max=366, help="payments falling due within this many days")] = 30) -> None:
    """Show what awaits you (to accept, price, confirm or pay) and what you wait for."""
    me = participant()
    answer = me.inbox(within_days=within_days)
    items: list[Item] = answer["items"]
    who = names()
    title = (f"Inbox of {who.org(me.uscc)} on {answer['as_of']} (payments falling due "
             f"within {answer['within_days']} days)")
    parts: list[RenderableType] = [Text(title, style="bold")]
    todo = [i for i in items if i["kind"] in TO_DO]
    waiting = [i for i in items if i["kind"] not in TO_DO]
    if not items:
        parts.append(Text("nothing awaits you"))
    if todo:
        parts += [Text(f"\nTo do ({len(todo)})", style="bold"), *(
            _todo(i, who) for i in todo)]
    if waiting:
        parts += [Text(f"\nWaiting on others ({len(waiting)})", style="bold"), *(
            _waiting(i, who) for i in waiting)]
    if answer.get("truncated"):
        parts.append(Text("\n(more items than shown: list them with `ledger credentials`, "
                          "`notes` or `financings`)"))
    show(answer, Group(*parts), [i["id"] for i in items])


def _head(item: Item, what: str) -> str:
    return (f"{item['date'] or '-':<10}  {what}  {short(item['id'])}  "
            f"{yuan(item['amount'], item['currency'])}")


def _todo(item: Item, who: Directory) -> Text:
    """Return a to-do item: what, the facts that decide it, and the command that acts on it."""
    facts, command = _DETAILS[item["kind"]](item, who)
    style = "red" if item["kind"] == "overdue" else ""
    return Text(f"{_head(item, TO_DO[item['kind']])}\n{INDENT}{facts}\n{INDENT}-> {command}",
                style=style)


def _waiting(item: Item, who: Directory) -> Text:
    what = WAITING.get(item["kind"], item["kind"].replace("_", " "))
    return Text(f"{_head(item, what)}\n{INDENT}waiting for {who.name(item['counterparty'])}")


def _to_accept(item: Item, who: Directory) -> tuple[str, str]:
    record = item["record"]
    return (f"from {who.name(item['counterparty'])}; matures {record['maturity_date']}; "
            f"accept by {item['date']}",
            f"ledger accept {item['id'][:12]}   (or: ledger reject {item['id'][:12]})")


def _request(item: Item, who: Directory) -> tuple[str, str]:
    note = item["record"].get("note") or {}
    return (f"{who.name(item['counterparty'])} asks you to finance note "
            f"{short(note.get('id'))}, maturing {item['date']}",
            f"ledger finance offer {item['id'][:12]} --rate-percent RATE "
            f"--funding-date YYYY-MM-DD")


def _offer(item: Item, who: Directory) -> tuple[str, str]:
    terms = item["record"].get("terms") or {}
    return (f"{who.name(item['counterparty'])} offers {terms.get('annual_rate_percent')} % a "
            f"year for {terms.get('days')} days: interest {yuan(terms.get('interest', 0))}, "
            f"fees {yuan(terms.get('fees', 0))}, net proceeds "
            f"{yuan(terms.get('net_proceeds', 0))}",
            f"ledger finance accept {item['id'][:12]}   (shows the terms, then asks)")


def _disbursement(item: Item, who: Directory) -> tuple[str, str]:
    return (f"pay {who.name(item['counterparty'])} the net proceeds, then confirm it",
            f"ledger finance confirm {item['id'][:12]} --payment-ref REF")


def _due(item: Item, who: Directory) -> tuple[str, str]:
    return (f"{yuan(item['amount'], item['currency'])} outstanding, matures {item['date']}",
            f"ledger pay {item['id'][:12]} --amount {format_fen(item['amount'])} "
            f"--reference REF")


def _overdue(item: Item, who: Directory) -> tuple[str, str]:
    if item["counterparty"] is None:  # the issuer's own credential
        return _due(item, who)
    return (f"{who.name(item['counterparty'])} has not paid it; it matured {item['date']}",
            f"ledger receivable {item['record']['id'][:12]}")


_DETAILS: dict[str, Callable[[Item, Directory], tuple[str, str]]] = {
    "credential_to_accept": _to_accept, "financing_request": _request,
    "offer_to_accept": _offer, "disbursement_to_confirm": _disbursement,
    "payment_due": _due, "overdue": _overdue,
}

