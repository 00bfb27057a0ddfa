"""`ledger finance`: discounting and factoring a note with a bank.

The holder asks a bank to finance a note; the bank offers priced terms (an
annual rate in percent, fees, recourse); the holder accepts exactly those
terms by their hash, and the note passes to the bank; the bank confirms the
disbursement.  Either side may withdraw before acceptance.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from client.cli.common import Settings, committed, console, fen, participant, show
from client.sdk.participant import Participant
from ledger.money import format_fen

app = typer.Typer(help="Financing (discount / factoring).", no_args_is_help=True)


@app.command("request")
def finance_request(note: str, bank: Annotated[str, typer.Option()]) -> None:
    """Ask a bank to finance a note you hold."""
    status = participant().request_financing(note, bank)
    show(status, f"financing request {status['events'][0]['financing']}")


@app.command("offer")
def finance_offer(
    financing: str,
    rate_percent: Annotated[str, typer.Option(
        "--rate-percent", help="annual rate IN PERCENT: 2.50 means 2.50 % a year")],
    funding_date: Annotated[str, typer.Option()], fees: str = "0",
    fee_payer: str = "seller", recourse: bool = False, registry_no: str | None = None,
    tenor_reviewed: bool = False,
) -> None:
    """As the bank, offer priced terms (the rate is in percent a year)."""
    status = participant().offer_terms(
        financing, annual_rate_percent=rate_percent, funding_date=funding_date,
        fees=fen(fees), fee_payer=fee_payer, recourse=recourse, registry_no=registry_no,
        tenor_reviewed=tenor_reviewed)
    event = status["events"][0]
    show(status, f"offered: {describe_terms(event['terms'])}\nterms hash {event['terms_hash']}")


def describe_terms(terms: dict[str, Any]) -> str:
    """Return the priced terms in words: rate in percent, days, interest, fees, net proceeds."""
    return (f"{format_fen(terms['face'])} at {terms['annual_rate_percent']} % a year for "
            f"{terms['days']} days from {terms['funding_date']}: interest "
            f"{format_fen(terms['interest'])}, fees {format_fen(terms['fees'])} "
            f"({terms['fee_payer']} pays), net proceeds {format_fen(terms['net_proceeds'])}, "
            f"{'with' if terms['recourse'] else 'without'} recourse")


@app.command("show")
def finance_show(financing: str) -> None:
    """Show a financing request and the terms on offer, with the hash that accepts them."""
    record = participant().financing(financing)
    terms = record.get("terms")
    text = f"financing {record['id']}: {record['status']}"
    if terms:
        text += f"\n{describe_terms(terms)}\nterms hash {record['terms_hash']}"
    show(record, text)


@app.command("accept")
def finance_accept(
    financing: str,
    terms_hash: Annotated[str | None, typer.Option(
        help="accept exactly these terms (from `finance show`); without it, the terms on "
             "offer are shown and you are asked")] = None,
) -> None:
    """Agree to the bank's terms; the note passes to the bank."""
    me = participant()
    if terms_hash is None:
        terms_hash = _confirmed_terms_hash(me, financing)
    committed(me.accept_terms(financing, terms_hash), "financing")


def _confirmed_terms_hash(me: Participant, financing: str) -> str:
    """Show the terms on offer, ask the user to accept them, and return their hash.

    Raises BadParameter when nothing is on offer or nobody can be asked
    (--json, or no terminal); typer.Abort when the user declines.
    """
    record = me.financing(financing)
    if not record.get("terms"):
        raise typer.BadParameter(f"financing {financing} has no terms on offer yet")
    if Settings.as_json or not sys.stdin.isatty():
        raise typer.BadParameter("give --terms-hash (shown by `ledger finance show`) to "
                                 "accept without being asked")
    console.print(describe_terms(record["terms"]))
    typer.confirm("Accept these terms?", abort=True)
    return str(record["terms_hash"])


@app.command("cancel")
def finance_cancel(financing: str) -> None:
    """Withdraw from an open financing request."""
    committed(participant().cancel_financing(financing), "cancellation")


@app.command("confirm")
def finance_confirm(financing: str, payment_ref: Annotated[str, typer.Option()]) -> None:
    """As the bank, confirm the disbursement."""
    committed(participant().confirm_disbursement(financing, payment_ref), "disbursement")
