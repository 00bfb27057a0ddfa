"""The business actions of the `ledger` command line: one command each, as a participant.

A bank proposes a credit line and the core enterprise co-signs it; the core
enterprise issues credentials; suppliers accept, reject, transfer; the
issuer pays; a freeze authority freezes.  Each command signs with the
keystore the global options name and prints what committed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from client.cli.common import committed, fen, participant, show
from client.sdk.participant import PreparedTx
from ledger.money import format_fen
from ledger.tx import parse_envelope


def credit_line(
    core: Annotated[str, typer.Option(help="core enterprise USCC")],
    limit: Annotated[str, typer.Option(help="limit in yuan")],
    expiry: Annotated[str, typer.Option(help="expiry date YYYY-MM-DD")],
    out: Annotated[Path, typer.Option(help="file for the core enterprise to co-sign")],
    currency: str = "CNY",
) -> None:
    """As a bank, propose a credit line; the core enterprise co-signs and submits it."""
    prepared = participant().propose_credit_line(core=core, limit=fen(limit), currency=currency,
                                                 expiry_date=expiry)
    out.write_text(json.dumps(prepared.envelope().to_json()), encoding="utf-8")
    show({"prepared": str(out)}, f"wrote {out}: run `ledger cosign {out}` as the core enterprise")


def cosign(
    prepared: Annotated[Path, typer.Argument(help="prepared transaction file")],
    submit: Annotated[bool, typer.Option(help="submit once signed")] = True,
) -> None:
    """Add your signature to a prepared transaction (and submit it)."""
    envelope = parse_envelope(json.loads(prepared.read_text(encoding="utf-8")))
    me = participant()
    signed = me.cosign(PreparedTx(envelope.body, envelope.body_bytes, envelope.signatures))
    prepared.write_text(json.dumps(signed.envelope().to_json()), encoding="utf-8")
    if submit:
        status = me.submit([signed.envelope()])[0]
        committed(me.transaction(status["tx_id"]), "co-signed transaction")


def issue(
    credit_line_id: Annotated[str, typer.Option("--credit-line")],
    to: Annotated[str, typer.Option(help="supplier USCC")],
    amount: Annotated[str, typer.Option(help="face in yuan")],
    maturity: Annotated[str, typer.Option(help="maturity date YYYY-MM-DD")],
    contract_no: Annotated[str, typer.Option(help="trade contract number")],
    invoice: Annotated[list[str], typer.Option(help="NUMBER:AMOUNT[:ALLOCATED] in yuan")],
    currency: str = "CNY",
) -> None:
    """Issue a credential to a supplier against its invoices."""
    me = participant()
    invoices = _invoices(invoice, seller=to)
    status = me.issue(credit_line=credit_line_id, to=to, amount=fen(amount), currency=currency,
                      maturity_date=maturity, contract_no=contract_no, invoices=invoices)
    show(status, f"issued credential {status['events'][0]['receivable']}")


def _invoices(specs: list[str], *, seller: str) -> list[dict[str, Any]]:
    """Return the invoices typed as NUMBER:AMOUNT[:ALLOCATED] (yuan), amounts in fen."""
    invoices = []
    for spec in specs:
        number, total, *rest = spec.split(":")
        invoices.append({"seller": seller, "number": number, "amount": fen(total),
                         "allocated": fen(rest[0] if rest else total)})
    return invoices


def _simple(action: str, argument: str, what: str) -> None:
    """Run the participant's `action` on one id and report it as `what`."""
    me = participant()
    committed(getattr(me, action)(argument), what)


def accept(receivable: str) -> None:
    """Sign for a credential issued to you."""
    _simple("accept", receivable, "acceptance")


def reject(receivable: str) -> None:
    """Refuse a credential issued to you."""
    _simple("reject", receivable, "rejection")


def withdraw(receivable: str) -> None:
    """Withdraw a credential you issued that is not yet accepted."""
    _simple("withdraw", receivable, "withdrawal")


def expire(receivable: str) -> None:
    """Record that a credential's acceptance window passed."""
    _simple("expire", receivable, "expiry")


def mark_overdue(receivable: str) -> None:
    """Record that a credential is unpaid past maturity plus grace."""
    _simple("mark_overdue", receivable, "overdue mark")


def transfer(
    note: str,
    pay: Annotated[list[str], typer.Option(help="USCC:AMOUNT in yuan (repeat)")],
) -> None:
    """Pay one or more suppliers from a note you hold; you keep the remainder."""
    payments = [(p.split(":")[0], fen(p.split(":")[1])) for p in pay]
    status = participant().transfer(note, payments)
    outputs = status["events"][0]["outputs"]
    show(status, "\n".join(f"{o['note']}  {o['holder']}  {format_fen(o['amount'])}"
                           for o in outputs))


def pay(receivable: str, amount: Annotated[str, typer.Option()],
        reference: Annotated[str, typer.Option()]) -> None:
    """As the issuer, record a maturity payment (full or partial)."""
    committed(participant().pay(receivable, fen(amount), reference), "payment")


def freeze(note: str, reason: Annotated[str, typer.Option()]) -> None:
    """As a freeze authority, freeze a note."""
    committed(participant().freeze(note, reason), "freeze")


def unfreeze(note: str, reason: Annotated[str, typer.Option()]) -> None:
    """As a freeze authority, lift a freeze."""
    committed(participant().unfreeze(note, reason), "unfreeze")
