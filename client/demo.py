"""`ledger demo`: an embedded consortium plays one credential's whole life, then audits it.

A node process starts on loopback with a manual clock (so ninety days pass in
seconds).  A bank grants a credit line; the core enterprise issues a
credential against invoices; suppliers accept it, split it down three tiers
and finance two pieces with two banks at different rates; a double-financing
attempt and an over-split are refused with the rule that stops them; at
maturity the core enterprise pays and every holder is cleared; then the
auditor verifies every signature, hash link and Merkle root.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from client.audit import AuditReport, audit_node
from client.consortium import Consortium, init_consortium
from client.http import NodeError
from client.launcher import NodeProcess, start_node
from client.participant import Participant, TransactionFailed
from ledger.crypto import sha256_hex
from ledger.money import format_fen
from ledger.timefmt import format_timestamp

DEMO_PASSWORD = "demo-only-password"
GENESIS_TIME = datetime(2026, 1, 5, 9, 0, 0, tzinfo=UTC)
YUAN = 100


def yuan(amount: int) -> int:
    """Return `amount` yuan in fen."""
    return amount * YUAN


class DemoClock:
    """The story's clock, kept in step with the node's manual clock."""

    def __init__(self, start: datetime) -> None:
        self.moment = start

    def now(self) -> datetime:
        """Return the story's current time."""
        return self.moment


@dataclass
class Cast:
    """The participants of the story, each bound to the node as itself."""

    by_alias: dict[str, Participant]
    names: dict[str, str]

    def __getitem__(self, alias: str) -> Participant:
        return self.by_alias[alias]

    def name_of(self, uscc: str) -> str:
        """Return the short name of the organisation with id `uscc`."""
        return self.names.get(uscc, uscc)

    def close(self) -> None:
        """Close every connection."""
        for participant in self.by_alias.values():
            participant.close()


class Story:
    """Plays the demo against a running node and prints a readable account."""

    def __init__(self, cast: Cast, clock: DemoClock, console: Console) -> None:
        self.cast = cast
        self.clock = clock
        self.out = console
        self.receivable = ""
        self.notes: dict[str, str] = {}

    def today(self) -> date:
        """Return the story's business date."""
        return self.clock.now().date()

    def advance(self, days: int, why: str) -> None:
        """Move the node's clock and the story's forward by `days`."""
        self.cast["auditor"].node.post("/v1/admin/clock", {"days": days})
        self.clock.moment += timedelta(days=days)
        self.out.rule(f"[bold]{self.today().isoformat()}[/]  {why}")

    def say(self, text: str) -> None:
        """Print one line of the story."""
        self.out.print(f"  {text}")

    def refused(self, what: str, attempt: Callable[[], Any]) -> str:
        """Run an attempt that must be refused; print and return the rule that stopped it."""
        try:
            attempt()
        except (NodeError, TransactionFailed) as exc:
            rule = exc.detail if isinstance(exc, NodeError) else str(exc.status.get("reason"))
            rule = rule.split(": ", 1)[-1]
            self.say(f"[red]refused[/] {what}: [italic]{rule}[/]")
            return rule
        raise AssertionError(f"{what} was accepted but must be refused")

    def holdings(self, title: str) -> None:
        """Print who holds what right now (active notes per organisation)."""
        table = Table(title=title, title_justify="left", show_lines=False)
        table.add_column("holder")
        table.add_column("notes", justify="right")
        table.add_column("amount (CNY)", justify="right")
        for alias in ("tier1", "tier2a", "tier2b", "tier3", "bank_a", "bank_b"):
            notes = self.cast[alias].holdings(status=None)
            live = [n for n in notes if n["status"] in ("active", "financing", "pending")]
            if live:
                table.add_row(self.cast.names[self.cast[alias].uscc], str(len(live)),
                              format_fen(sum(n["amount"] for n in live)))
        self.out.print(table)


def _note_of(status: dict[str, Any], holder: str) -> str:
    outputs = status["events"][0]["outputs"]
    return str(next(o["note"] for o in outputs if o["holder"] == holder))


def act_one_credit_and_issue(story: Story) -> None:
    """A credit line, then issuance against two invoices, then acceptance."""
    cast = story.cast
    core, tier1, bank_a = cast["core"], cast["tier1"], cast["bank_a"]
    story.out.rule(f"[bold]{story.today().isoformat()}[/]  credit line and issuance")
    prepared = core.cosign(bank_a.propose_credit_line(
        core=core.uscc, limit=yuan(50_000_000), currency="CNY", expiry_date="2026-12-31"))
    status = bank_a.submit([prepared.envelope()])[0]
    line = bank_a.transaction(status["tx_id"])["events"][0]["credit_line"]
    story.say(f"Bank A grants the core enterprise a credit line of "
              f"{format_fen(yuan(50_000_000))} CNY (both sign)")
    invoices = [
        {"seller": tier1.uscc, "number": "INV-2026-0001", "amount": yuan(6_000_000),
         "allocated": yuan(6_000_000)},
        {"seller": tier1.uscc, "number": "INV-2026-0002", "amount": yuan(4_000_000),
         "allocated": yuan(4_000_000)},
    ]
    documents = [{"name": "purchase-order PO-2026-001.pdf",
                  "sha256": sha256_hex(b"purchase order PO-2026-001")}]
    maturity = (story.today() + timedelta(days=90)).isoformat()
    issued = core.issue(credit_line=line, to=tier1.uscc, amount=yuan(10_000_000),
                        currency="CNY", maturity_date=maturity, contract_no="PO-2026-001",
                        invoices=invoices, documents=documents)
    story.receivable = issued["events"][0]["receivable"]
    story.say(f"the core enterprise issues a credential of {format_fen(yuan(10_000_000))} CNY "
              f"to its tier-1 supplier, maturing {maturity}, against invoices "
              f"INV-2026-0001 and INV-2026-0002")
    tier1.accept(story.receivable)
    story.notes["tier1"] = story.receivable
    story.say("the tier-1 supplier signs for it (签收): the credential is effective")


def act_two_splits(story: Story) -> None:
    """Splits down three tiers, each supplier paying its own suppliers."""
    cast = story.cast
    tier1, tier2a, tier2b, tier3 = (cast[a] for a in ("tier1", "tier2a", "tier2b", "tier3"))
    story.advance(3, "tier 1 pays two tier-2 suppliers")
    paid = tier1.transfer(story.notes["tier1"], [(tier2a.uscc, yuan(4_000_000)),
                                                 (tier2b.uscc, yuan(3_000_000))])
    story.notes.update(tier1=_note_of(paid, tier1.uscc), tier2a=_note_of(paid, tier2a.uscc),
                       tier2b=_note_of(paid, tier2b.uscc))
    story.say("Suzhou Precision splits its note: 4,000,000.00 to Wuxi Castings, "
              "3,000,000.00 to Changzhou Motors, keeps 3,000,000.00")
    story.advance(2, "tier 2 pays tier 3")
    paid = tier2a.transfer(story.notes["tier2a"], [(tier3.uscc, yuan(1_500_000))])
    story.notes.update(tier2a=_note_of(paid, tier2a.uscc), tier3=_note_of(paid, tier3.uscc))
    paid = tier2b.transfer(story.notes["tier2b"], [(tier3.uscc, yuan(500_000))])
    story.notes.update(tier2b=_note_of(paid, tier2b.uscc), tier3b=_note_of(paid, tier3.uscc))
    story.say("Wuxi Castings pays Nantong Steel 1,500,000.00; Changzhou Motors pays it "
              "500,000.00")
    story.holdings("holdings after the splits")


def _finance(story: Story, seller: str, note: str, bank: str, **terms: Any) -> dict[str, Any]:
    cast = story.cast
    requested = cast[seller].request_financing(note, cast[bank].uscc)
    financing = requested["events"][0]["financing"]
    offered = cast[bank].offer_terms(financing, funding_date=story.today().isoformat(), **terms)
    priced = offered["events"][0]["terms"]
    cast[seller].accept_terms(financing)
    cast[bank].confirm_disbursement(financing, f"{bank.upper()}-PAY-{financing[:8]}")
    return {"financing": financing, **priced}


def _percent(rate: str) -> str:
    """Render a decimal-fraction rate string as a percentage: '0.0285' -> '2.85%'."""
    return f"{Decimal(rate) * 100:.2f}%"


def act_three_financing(story: Story) -> None:
    """Two financings at different rates, then the two refused attempts."""
    cast = story.cast
    story.advance(5, "two holders have their notes financed")
    first = _finance(story, "tier1", story.notes["tier1"], "bank_a", annual_rate="0.0200")
    second = _finance(story, "tier3", story.notes["tier3"], "bank_b", annual_rate="0.0285",
                      fees=yuan(300), fee_payer="split", recourse=True,
                      registry_no="ZDW-2026-0123456")
    story.say("financed (ACT/360 from funding to maturity, half-up to the fen):")
    for seller, bank, terms in (("tier1", "bank_a", first), ("tier3", "bank_b", second)):
        recourse = "with recourse" if terms["recourse"] else "without recourse"
        story.say(
            f"  {cast.names[cast[seller].uscc]} -> {cast.names[cast[bank].uscc]}: "
            f"{format_fen(terms['face'])} at {_percent(terms['annual_rate'])} for "
            f"{terms['days']} days = interest {format_fen(terms['interest'])}, fees "
            f"{format_fen(terms['fees'])} ({terms['fee_payer']}), net proceeds "
            f"[bold]{format_fen(terms['net_proceeds'])}[/], {recourse}")
    bank_note = cast["bank_a"].holdings()[0]["id"]
    story.refused(
        "Bank A offering its financed note to Bank B (double financing)",
        lambda: cast["bank_a"].request_financing(bank_note, cast["bank_b"].uscc))
    line = cast["core"].receivable(story.receivable)["receivable"]["credit_line"]
    story.refused(
        "a new credential against the already-used invoice INV-2026-0001 (double financing)",
        lambda: cast["core"].issue(
            credit_line=line, to=cast["tier1"].uscc, amount=yuan(1_000_000), currency="CNY",
            maturity_date=(story.today() + timedelta(days=60)).isoformat(),
            contract_no="PO-2026-001",
            invoices=[{"seller": cast["tier1"].uscc, "number": "INV-2026-0001",
                       "amount": yuan(6_000_000), "allocated": yuan(1_000_000)}]))
    story.refused(
        "Changzhou Motors paying 3,000,000.00 out of its 2,500,000.00 note (over-split)",
        lambda: cast["tier2b"].transfer(story.notes["tier2b"],
                                        [(cast["tier3"].uscc, yuan(3_000_000))]))
    story.refused(
        "Changzhou Motors splitting off a 50.00 piece (below the 100.00 minimum)",
        lambda: cast["tier2b"].transfer(story.notes["tier2b"],
                                        [(cast["tier3"].uscc, yuan(50))]))
    story.holdings("holdings after financing")


def act_four_maturity(story: Story) -> int:
    """Maturity payment clears every holder; returns the total cleared in fen."""
    cast = story.cast
    story.advance(80, "maturity: the core enterprise pays")
    paid = cast["core"].pay(story.receivable, yuan(10_000_000), "CORE-TT-20260405-001")
    story.say(f"the core enterprise pays {format_fen(yuan(10_000_000))} CNY "
              f"(ref CORE-TT-20260405-001); every holder is cleared:")
    tree = cast["auditor"].receivable(story.receivable)
    settled = [n for n in tree["notes"] if n["status"] == "settled"]
    table = Table(title="clearing (清分)", title_justify="left")
    table.add_column("holder")
    table.add_column("amount (CNY)", justify="right")
    for note in settled:
        table.add_row(cast.name_of(note["holder"]), format_fen(note["amount"]))
    story.out.print(table)
    story.out.print(split_tree(tree, cast))
    assert paid["valid"], paid
    return sum(n["amount"] for n in settled)


def split_tree(tree: dict[str, Any], cast: Cast) -> Tree:
    """Draw a credential's split tree: each note with holder, amount and status."""
    notes = tree["notes"]
    children: dict[str | None, list[dict[str, Any]]] = {}
    for note in notes:
        children.setdefault(note["parent_id"], []).append(note)

    def label(note: dict[str, Any]) -> str:
        flag = " [yellow]financed[/]" if note["financed"] else ""
        return (f"{cast.name_of(note['holder'])}  {format_fen(note['amount'])}  "
                f"[dim]{note['status']}[/]{flag}")

    root = next(n for n in notes if n["parent_id"] is None)
    drawing = Tree(f"[bold]credential {root['id'][:12]}…[/]  {label(root)}")
    stack = [(root, drawing)]
    while stack:
        note, branch = stack.pop()
        for child in children.get(note["id"], []):
            stack.append((child, branch.add(label(child))))
    return drawing


def print_audit(console: Console, report: AuditReport) -> None:
    """Print the audit's figures and findings."""
    verdict = "[green]PASSED[/]" if report.passed else "[red]FAILED[/]"
    console.rule(f"[bold]audit {verdict}")
    console.print(f"  {report.blocks} blocks, {report.transactions} transactions "
                  f"({report.invalid_transactions} recorded invalid), "
                  f"{report.signatures} signatures verified; hash links and RFC 9162 roots "
                  f"checked; global log of {report.log_size} entries, root "
                  f"{report.log_root[:16]}… matches the node's checkpoint "
                  f"({report.seconds:.2f} s)")
    for finding in report.findings:
        console.print(f"  [red]finding:[/] {finding}")


def run_demo(directory: Path | None = None, console: Console | None = None) -> bool:
    """Run the whole story; return True only if it completed and the audit passed."""
    console = console or Console()
    with tempfile.TemporaryDirectory(prefix="ledger-demo-") as scratch:
        work = directory or Path(scratch)
        consortium = init_consortium(work / "consortium", password=DEMO_PASSWORD,
                                     chain_id="demo-receivables", genesis_time=GENESIS_TIME)
        node = start_node(genesis=consortium.genesis_path,
                          database_url=f"sqlite:///{work / 'node.db'}",
                          orderer=work / "orderer.db", log_path=work / "node.log",
                          manual_clock=format_timestamp(GENESIS_TIME))
        try:
            return _play(consortium, node, console)
        finally:
            node.stop()


def _play(consortium: Consortium, node: NodeProcess, console: Console) -> bool:
    clock = DemoClock(GENESIS_TIME)
    cast = Cast(
        {alias: Participant(node.url, consortium.identity(alias, DEMO_PASSWORD),
                            chain_id=consortium.chain_id, now=clock.now)
         for alias in consortium.orgs},
        {info["uscc"]: info["name"].split(" (")[-1].rstrip(")")
         for info in consortium.orgs.values()},
    )
    console.print(f"[bold]Receivables ledger demo[/]: chain {consortium.chain_id}, node "
                  f"{node.url}, {len(cast.by_alias)} organisations")
    try:
        story = Story(cast, clock, console)
        act_one_credit_and_issue(story)
        act_two_splits(story)
        act_three_financing(story)
        cleared = act_four_maturity(story)
        report = audit_node(cast["auditor"].node)
        print_audit(console, report)
    finally:
        cast.close()
    if cleared != yuan(10_000_000):
        console.print(f"[red]cleared {format_fen(cleared)} but the face is 10,000,000.00[/]")
        return False
    return report.passed
