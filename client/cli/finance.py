"""`ledger finance`: discounting and factoring a note with a bank.

The holder asks a bank to finance a note; the bank offers priced terms (an
annual rate in percent, fees, recourse); the holder sees the rate, days,
interest, fees and net proceeds, and accepts exactly those terms by their
hash, and the note passes to the bank; the bank confirms the disbursement.
Either side may withdraw before acceptance.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Group
from rich.text import Text

from client.cli.common import (
    Settings,
    committed,
    console,
    fen,
    names,
    org,
    participant,
    record,
    show,
)
from client.cli.lists import one_of
from client.cli.render import financing_view, terms_lines, yuan
from client.sdk.participant import Participant
from ledger.errors import LedgerError
from ledger.money import FEE_PAYERS, parse_percent
from ledger.timefmt import parse_date

app = typer.Typer(help="Financing (discount / factoring).", no_args_is_help=True)
FinancingId = Annotated[str, typer.Argument(help="financing id or prefix")]


@app.command("request")
def finance_request(
    note: Annotated[str, typer.Argument(help="note id or prefix")],
    bank: Annotated[str, typer.Option(help="the bank: USCC, alias or name")],
) -> None:
    """Ask a bank to finance a note you hold."""
    bank_uscc = org(bank, "--bank")
    status = participant().request_financing(record(note, "note"), bank_uscc)
    financing = status["events"][0]["financing"]
    show(status, f"financing request {financing} sent to {names().org(bank_uscc)}"
                 f"\nthe bank answers with terms; see them with: ledger finance show "
                 f"{financing[:12]}", [financing])


@app.command("offer")
def finance_offer(
    financing: FinancingId,
    rate_percent: Annotated[str, typer.Option(
        "--rate-percent", help="annual rate IN PERCENT: 2.50 means 2.50 % a year")],
    funding_date: Annotated[str, typer.Option(help="the day the bank pays, YYYY-MM-DD")],
    fees: Annotated[str, typer.Option(help="fees in yuan")] = "0",
    fee_payer: Annotated[str, typer.Option(help=f"who pays the fees: {', '.join(FEE_PAYERS)}")
                         ] = "seller",
    recourse: bool = False, registry_no: str | None = None, tenor_reviewed: bool = False,
) -> None:
    """As the bank, offer priced terms (the rate is in percent a year)."""
    one_of(fee_payer, FEE_PAYERS, "--fee-payer")
    try:
        parse_percent(rate_percent, "--rate-percent")
        parse_date(funding_date, what="--funding-date")
    except LedgerError as exc:
        raise typer.BadParameter(str(exc)) from exc
    status = participant().offer_terms(
        record(financing, "financing"), annual_rate_percent=rate_percent,
        funding_date=funding_date, fees=fen(fees, "--fees", positive=False),
        fee_payer=fee_payer, recourse=recourse, registry_no=registry_no,
        tenor_reviewed=tenor_reviewed)
    event = status["events"][0]
    show(status, f"offered on financing {event['financing']}:\n"
                 f"{terms_lines(event['terms'])}\nterms hash:   {event['terms_hash']}",
         [event["terms_hash"]])


@app.command("show")
def finance_show(financing: FinancingId) -> None:
    """Show a financing request and the terms on offer, with the hash that accepts them."""
    shown = participant().financing(record(financing, "financing"))
    show(shown, financing_view(shown, names()))


@app.command("accept")
def finance_accept(
    financing: FinancingId,
    terms_hash: Annotated[str | None, typer.Option(
        help="accept exactly these terms (from `finance show`)")] = None,
    yes: Annotated[bool, typer.Option(
        "--yes", "-y", help="accept the terms shown without asking")] = False,
) -> None:
    """See the bank's terms and agree to exactly them; the note passes to the bank."""
    me = participant()
    full = record(financing, "financing")
    agreed = _agreed_terms_hash(me, full, terms_hash, yes)
    committed(me.accept_terms(full, agreed), "financing")


def _agreed_terms_hash(me: Participant, financing: str, given: str | None, yes: bool) -> str:
    """Show the terms on offer and return the hash of the terms the user agrees to.

    With --terms-hash the user names the terms already; otherwise they are
    asked, unless --yes.  Raises BadParameter when nothing is on offer, when
    the named terms are not the ones on offer, or when nobody can be asked
    (--json or no terminal, and no --yes); typer.Abort when the user declines.
    """
    shown = me.financing(financing)
    terms = shown.get("terms")
    if shown["status"] != "offered" or not terms:
        raise typer.BadParameter(f"financing {financing[:8]}… has no terms on offer (it is "
                                 f"{shown['status']})")
    if given is not None and given != shown["terms_hash"]:
        raise typer.BadParameter(f"the terms on offer now have hash {shown['terms_hash']}, "
                                 f"not {given}: the bank changed them; look again with "
                                 f"`ledger finance show {financing[:12]}`")
    if not Settings.as_json:
        console.print(Group(Text(f"Terms offered by {names().org(shown['bank'])}:"),
                            Text(terms_lines(terms))))
    if given is None and not yes:
        if Settings.as_json or not sys.stdin.isatty():
            raise typer.BadParameter("give --yes (or --terms-hash, shown by `ledger finance "
                                     "show`) to accept without being asked")
        typer.confirm(f"Accept these terms (net proceeds {yuan(terms['net_proceeds'])})?",
                      abort=True)
    return str(shown["terms_hash"])


@app.command("cancel")
def finance_cancel(financing: FinancingId) -> None:
    """Withdraw from an open financing request."""
    committed(participant().cancel_financing(record(financing, "financing")), "cancellation")


@app.command("confirm")
def finance_confirm(
    financing: FinancingId,
    payment_ref: Annotated[str, typer.Option(help="the bank payment's reference")],
) -> None:
    """As the bank, confirm the disbursement."""
    committed(participant().confirm_disbursement(record(financing, "financing"), payment_ref),
              "disbursement")
