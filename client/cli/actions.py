"""The business actions of the `ledger` command line: one command each, as a participant.

A bank proposes a credit line and the core enterprise co-signs it; the core
enterprise issues credentials; suppliers accept, reject, transfer; the
issuer pays; a freeze authority freezes.  Each command signs with the
keystore the global options name and prints what committed.  What the user
typed is checked before anything is signed: organisations by USCC, alias or
name, ids by a unique prefix, amounts in yuan (`1,000,000.00`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from client.cli.common import committed, fen, names, org, participant, record, show
from client.cli.render import yuan
from client.sdk.participant import PreparedTx
from ledger.errors import LedgerError
from ledger.timefmt import parse_date
from ledger.tx import Envelope, parse_envelope


def _date(text: str, what: str) -> str:
    """Return a date the user typed (YYYY-MM-DD), checked."""
    try:
        return parse_date(text, what=what).isoformat()
    except LedgerError as exc:
        raise typer.BadParameter(str(exc)) from exc


def credit_line(
    core: Annotated[str, typer.Option(help="the core enterprise: USCC, alias or name")],
    limit: Annotated[str, typer.Option(help="limit in yuan, e.g. 5,000,000.00")],
    expiry: Annotated[str, typer.Option(help="expiry date YYYY-MM-DD")],
    out: Annotated[Path, typer.Option(help="file for the core enterprise to co-sign")],
    currency: str = "CNY",
) -> None:
    """As a bank, propose a credit line; the core enterprise co-signs and submits it."""
    core_uscc = org(core, "--core")
    amount, expiry_date = fen(limit, "--limit"), _date(expiry, "--expiry")
    prepared = participant().propose_credit_line(core=core_uscc, limit=amount,
                                                 currency=currency, expiry_date=expiry_date)
    out.write_text(json.dumps(prepared.envelope().to_json()), encoding="utf-8")
    show({"prepared": str(out)},
         f"wrote {out}: a credit line of {yuan(amount, currency)} to "
         f"{names().org(core_uscc)}, expiring {expiry_date}.\nThe core enterprise signs and "
         f"submits it with: ledger cosign {out}")


def _read_prepared(path: Path) -> Envelope:
    """Return the prepared transaction in `path`, or say why it is not one."""
    try:
        return parse_envelope(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError) as exc:
        raise typer.BadParameter(f"cannot read {path}: {exc}") from exc
    except (ValueError, LedgerError) as exc:
        raise typer.BadParameter(f"{path} is not a prepared transaction (a file written by "
                                 f"`ledger credit-line --out`): {exc}") from exc


def cosign(
    prepared: Annotated[Path, typer.Argument(help="prepared transaction file")],
    submit: Annotated[bool, typer.Option(help="submit once signed")] = True,
) -> None:
    """Add your signature to a prepared transaction (and submit it)."""
    envelope = _read_prepared(prepared)
    me = participant()
    if me.uscc not in envelope.body.signers:
        wanted = ", ".join(names().org(s) for s in envelope.body.signers)
        raise typer.BadParameter(f"you ({names().org(me.uscc)}) are not a signer of "
                                 f"{prepared}: it is to be signed by {wanted}")
    signed = me.cosign(PreparedTx(envelope.body, envelope.body_bytes, envelope.signatures))
    prepared.write_text(json.dumps(signed.envelope().to_json()), encoding="utf-8")
    if submit:
        status = me.submit([signed.envelope()])[0]
        committed(me.transaction(status["tx_id"]), "co-signed transaction")
    else:
        show({"prepared": str(prepared)}, f"signed {prepared}")


def issue(
    to: Annotated[str, typer.Option(help="the supplier: USCC, alias or name")],
    amount: Annotated[str, typer.Option(help="face in yuan")],
    maturity: Annotated[str, typer.Option(help="maturity date YYYY-MM-DD")],
    contract_no: Annotated[str, typer.Option(help="trade contract number")],
    invoice: Annotated[list[str], typer.Option(
        help="NUMBER:AMOUNT[:ALLOCATED] in yuan (repeat); ALLOCATED defaults to AMOUNT")],
    credit_line_id: Annotated[str | None, typer.Option(
        "--credit-line", help="credit line id or prefix [default: your only credit line]")
    ] = None,
    currency: str = "CNY",
) -> None:
    """Issue a credential to a supplier against its invoices."""
    supplier = org(to, "--to")
    face, maturity_date = fen(amount, "--amount"), _date(maturity, "--maturity")
    invoices = _invoices(invoice, seller=supplier)
    line = record(credit_line_id, "credit_line") if credit_line_id else _only_credit_line()
    me = participant()
    status = me.issue(credit_line=line, to=supplier, amount=face, currency=currency,
                      maturity_date=maturity_date, contract_no=contract_no, invoices=invoices)
    root = status["events"][0]["receivable"]
    show(status, f"issued credential {root}\n  {yuan(face, currency)} to "
                 f"{names().org(supplier)}, matures {maturity_date}; it takes effect when "
                 f"the supplier accepts it (ledger accept {root[:12]})", [root])


def _only_credit_line() -> str:
    """Return the id of the one credit line granted to this core enterprise, or say why not."""
    me = participant()
    granted = [c for c in me.credit_lines() if c["core"] == me.uscc]
    if len(granted) == 1:
        return str(granted[0]["id"])
    if not granted:
        raise typer.BadParameter("no credit line is granted to you: a bank proposes one "
                                 "(`ledger credit-line`) and you co-sign it (`ledger cosign`)")
    listed = "; ".join(f"{c['id'][:12]} from {names().name(c['bank'])} (headroom "
                       f"{yuan(c['limit'] - c['used'], c['currency'])})" for c in granted)
    raise typer.BadParameter(f"you have {len(granted)} credit lines; choose one with "
                             f"--credit-line: {listed}")


def _invoices(specs: list[str], *, seller: str) -> list[dict[str, Any]]:
    """Return the invoices typed as NUMBER:AMOUNT[:ALLOCATED] (yuan), amounts in fen."""
    invoices = []
    for spec in specs:
        parts = spec.split(":")
        if len(parts) not in (2, 3) or not parts[0].strip():
            raise typer.BadParameter(f"--invoice {spec!r}: write NUMBER:AMOUNT or "
                                     "NUMBER:AMOUNT:ALLOCATED, amounts in yuan (e.g. "
                                     "INV-1:1,000,000.00)")
        number, total, *rest = parts
        invoices.append({"seller": seller, "number": number,
                         "amount": fen(total, f"invoice {number} amount"),
                         "allocated": fen(rest[0] if rest else total,
                                          f"invoice {number} allocated amount")})
    return invoices


def _simple(action: str, typed_id: str, what: str) -> None:
    """Run the participant's `action` on one credential and report it as `what`."""
    root = record(typed_id, "receivable")
    committed(getattr(participant(), action)(root), what)


def accept(receivable: Annotated[str, typer.Argument(help="credential id or prefix")]) -> None:
    """Sign for a credential issued to you."""
    _simple("accept", receivable, "acceptance")


def reject(receivable: Annotated[str, typer.Argument(help="credential id or prefix")]) -> None:
    """Refuse a credential issued to you."""
    _simple("reject", receivable, "rejection")


def withdraw(receivable: Annotated[str, typer.Argument(help="credential id or prefix")]) -> None:
    """Withdraw a credential you issued that is not yet accepted."""
    _simple("withdraw", receivable, "withdrawal")


def expire(receivable: Annotated[str, typer.Argument(help="credential id or prefix")]) -> None:
    """Record that a credential's acceptance window passed."""
    _simple("expire", receivable, "expiry")


def mark_overdue(
        receivable: Annotated[str, typer.Argument(help="credential id or prefix")]) -> None:
    """Record that a credential is unpaid past maturity plus grace."""
    _simple("mark_overdue", receivable, "overdue mark")


def _payments(specs: list[str]) -> list[tuple[str, int]]:
    """Return the payments typed as WHO:AMOUNT (USCC, alias or name; yuan) in fen."""
    payments = []
    for spec in specs:
        who, colon, amount = spec.rpartition(":")
        if not colon or not who.strip():
            raise typer.BadParameter(f"--pay {spec!r}: write WHO:AMOUNT, the supplier (USCC, "
                                     "alias or name) and the amount in yuan, e.g. "
                                     "tier2a:400,000.00")
        payments.append((org(who, "--pay"), fen(amount, f"--pay amount for {who}")))
    return payments


def transfer(
    note: Annotated[str, typer.Argument(help="note id or prefix")],
    pay: Annotated[list[str], typer.Option(
        help="WHO:AMOUNT, the supplier (USCC, alias or name) and yuan (repeat)")],
) -> None:
    """Pay one or more suppliers from a note you hold; you keep the remainder."""
    payments = _payments(pay)
    status = participant().transfer(record(note, "note"), payments)
    committed(status, "transfer")


def pay(
    receivable: Annotated[str, typer.Argument(help="credential id or prefix")],
    amount: Annotated[str, typer.Option(help="amount paid, in yuan")],
    reference: Annotated[str, typer.Option(help="the bank payment's reference")],
) -> None:
    """As the issuer, record a maturity payment (full or partial)."""
    paid = fen(amount, "--amount")
    committed(participant().pay(record(receivable, "receivable"), paid, reference), "payment")


def freeze(note: Annotated[str, typer.Argument(help="note id or prefix")],
           reason: Annotated[str, typer.Option()]) -> None:
    """As a freeze authority, freeze a note."""
    committed(participant().freeze(record(note, "note"), reason), "freeze")


def unfreeze(note: Annotated[str, typer.Argument(help="note id or prefix")],
             reason: Annotated[str, typer.Option()]) -> None:
    """As a freeze authority, lift a freeze."""
    committed(participant().unfreeze(record(note, "note"), reason), "unfreeze")

