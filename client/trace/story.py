"""A trace bundle told as a story: who issued, split, transferred and financed what, when.

Each step names its signers, amounts in yuan and the trade background the
issuance recorded (contract number, invoices with their utilisation ids,
document hashes), then what the offline verification found and what it
took on trust.  Every text from the chain is escaped before rich prints it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.markup import escape

from client.trace.check import TraceVerdict, short
from contracts.receivable.invoices import invoice_number
from contracts.records import invoice_id
from ledger.errors import LedgerError, SchemaError
from ledger.money import format_fen
from ledger.tx import parse_envelope


class Teller:
    """Turns one bundle's entries into lines, naming organisations where the bundle knows them."""

    def __init__(self, bundle: Mapping[str, Any]) -> None:
        self.names: dict[str, str] = dict(bundle.get("names", {}))
        self.holders = {str(n["id"]): str(n["holder"]) for n in bundle["lineage"]}
        self.amounts = {str(n["id"]): int(n["amount"]) for n in bundle["lineage"]}
        self.currency = str(bundle["lineage"][-1].get("currency", "")) if bundle["lineage"] \
            else ""

    def who(self, uscc: object) -> str:
        """Return 'name (USCC)', or the USCC alone when the name is unknown."""
        name = self.names.get(str(uscc))
        return f"{name} ({uscc})" if name else str(uscc)

    def money(self, fen: object) -> str:
        """Return an amount of fen as yuan with the credential's currency."""
        return f"{format_fen(int(str(fen)))} {self.currency}".strip()

    def issue(self, args: Mapping[str, Any], signer: str) -> list[str]:
        """Describe an issuance with its trade background."""
        trade = args.get("trade", {})
        lines = [f"{self.who(signer)} issues {self.money(args['amount'])} to "
                 f"{self.who(args['to'])}, maturing {args.get('maturity_date')}, "
                 f"contract {trade.get('contract_no')}"]
        for inv in trade.get("invoices", []):
            lines.append(f"invoice {inv['number']} of {self.who(inv['seller'])}: "
                         f"{self.money(inv['amount'])}, {self.money(inv['allocated'])} used "
                         f"here (invoice id {_invoice_id(inv, buyer=signer)[:16]}…)")
        lines += [f"document {d['name']}: sha256 {d['sha256']}"
                  for d in trade.get("documents", [])]
        return lines

    def transfer(self, args: Mapping[str, Any], signer: str) -> list[str]:
        """Describe a split or transfer."""
        paid = ", ".join(f"{self.who(p['to'])} {self.money(p['amount'])}"
                         for p in args["payments"])
        rest = self.amounts.get(str(args["note"]), 0) - sum(int(p["amount"])
                                                            for p in args["payments"])
        keeps = f" and keeps {self.money(rest)}" if rest > 0 else ""
        return [f"{self.who(signer)} pays {paid} from note {short(args['note'])}…{keeps}"]

    def finance(self, entry: Mapping[str, Any], signer: str) -> list[str]:
        """Describe a financing, with the bank's terms when the node let us read them."""
        event: Mapping[str, Any] = next(
            (e for e in entry.get("events", []) if e.get("type") == "financed"), {})
        bank = self.holders.get(str(event.get("bank_note")))
        line = (f"{self.who(signer)} sells note {short(event.get('note'))}… to "
                f"{self.who(bank) if bank else 'its bank'} "
                f"(financing {short(event.get('financing'))}…)")
        terms = (entry.get("financing") or {}).get("terms")
        if not terms:
            net = event.get("net_proceeds")
            return [line + (f", net proceeds {self.money(net)}" if net is not None else "")]
        rate = f"{terms['annual_rate_percent']} % a year"
        return [line,
                f"terms (node record, not proven): {self.money(terms['face'])} at {rate} for "
                f"{terms['days']} days, interest {self.money(terms['interest'])}, fees "
                f"{self.money(terms['fees'])} ({terms['fee_payer']}), net proceeds "
                f"{self.money(terms['net_proceeds'])}, "
                f"{'with' if terms.get('recourse') else 'without'} recourse"
                + (f", registry no. {terms['registry_no']}" if terms.get("registry_no") else "")]

    def pay(self, args: Mapping[str, Any], signer: str) -> list[str]:
        """Describe a maturity payment."""
        return [f"{self.who(signer)} pays {self.money(args['amount'])} on the credential "
                f"(ref {args.get('payment_ref')}); this note is the unpaid rest"]

    def step(self, entry: Mapping[str, Any]) -> tuple[str, list[str]]:
        """Return (action word, lines) for one transaction entry."""
        body = parse_envelope(entry["envelope"]).body
        signer = body.signers[0]
        if body.action == "issue":
            return "issued", self.issue(body.args, signer)
        if body.action == "transfer":
            word = "split" if len(body.args["payments"]) > 1 else "transfer"
            return word, self.transfer(body.args, signer)
        if body.action == "accept_terms":
            return "financed", self.finance(entry, signer)
        if body.action == "pay":
            return "settled", self.pay(body.args, signer)
        return body.action, []


def _invoice_id(invoice: Mapping[str, Any], *, buyer: str) -> str:
    """Return the ledger's id of an invoice the issuing buyer listed ('?' if it has none)."""
    try:
        return invoice_id(str(invoice["seller"]), buyer, invoice_number(invoice["number"]))
    except SchemaError:
        return "?"


def tell_trace(console: Console, bundle: Mapping[str, Any], verdict: TraceVerdict) -> None:
    """Print the provenance story of a bundle, then the verification verdict."""
    teller = Teller(bundle)
    note = bundle["lineage"][0] if bundle["lineage"] else {}
    console.rule(f"[bold]provenance of note {escape(str(bundle['note']))}")
    if note:
        console.print(f"  held by {escape(teller.who(note['holder']))}: "
                      f"{escape(teller.money(note['amount']))}, {escape(str(note['status']))}")
    for entry in bundle["transactions"]:
        word, lines = teller.step(entry)
        signers = parse_envelope(entry["envelope"]).body.signers
        console.print(f"[bold]{escape(str(entry.get('block_time', ''))[:10])}  "
                      f"{escape(word)}[/]")
        for line in lines:
            console.print(f"    {escape(line)}")
        for made in (n for n in bundle["lineage"] if n.get("created_tx") == entry["tx_id"]):
            console.print(f"    [cyan]on this path[/]: note {escape(short(made['id']))}… "
                          f"held by {escape(teller.who(made['holder']))}, "
                          f"{escape(teller.money(made['amount']))}")
        console.print(f"    [dim]signed by {escape(', '.join(teller.who(s) for s in signers))}; "
                      f"tx {escape(str(entry['tx_id']))}, block {entry.get('height')}, "
                      f"log index {entry.get('log_index')}[/]")
    for gap in bundle.get("missing", []):
        console.print(f"[yellow]gap[/]: transaction {escape(str(gap['tx_id']))} (created note "
                      f"{escape(short(gap['note']))}…) {escape(str(gap['reason']))}")
    tell_verdict(console, bundle, verdict)


def tell_verdict(console: Console, bundle: Mapping[str, Any], verdict: TraceVerdict) -> None:
    """Print what was verified, what failed and what was trusted."""
    point = bundle.get("checkpoint", {})
    console.rule("[bold]verification (offline)")
    console.print(f"  against checkpoint: chain {escape(str(point.get('chain_id')))}, log size "
                  f"{point.get('size')}, root {escape(str(point.get('root')))}, block "
                  f"{point.get('height')}")
    held = len(verdict.checks) - len(verdict.failures)
    console.print(f"  {held} of {len(verdict.checks)} checks hold")
    for check in verdict.failures:
        console.print(f"  [red]failed[/] {escape(check.subject)}: {escape(check.detail)}")
    for statement in verdict.trusted:
        console.print(f"  [dim]trusted[/] {escape(statement)}")
    if verdict.passed:
        console.print("  [green]verified[/]: every step back to the issuance is signed, "
                      "logged and linked")
    elif not verdict.complete and not verdict.failures:
        console.print("  [yellow]incomplete[/]: the trace does not reach the issuance with "
                      "every transaction (see the gaps)")
    else:
        console.print("  [red]NOT verified[/]")


def tell_checked(console: Console, bundle: Any, verdict: TraceVerdict) -> None:
    """Print a verified bundle's story and verdict; for a malformed bundle, the failures only."""
    try:
        tell_trace(console, bundle, verdict)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, LedgerError):
        for check in verdict.failures:
            console.print(f"  [red]failed[/] {escape(check.subject)}: {escape(check.detail)}")
        console.print("  [red]NOT verified[/]: the bundle is malformed")
