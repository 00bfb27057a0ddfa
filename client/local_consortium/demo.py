"""`ledger demo`: an embedded consortium plays one credential's whole life, then audits it.

A node process starts on loopback with a manual clock (so ninety days pass in
seconds).  A bank grants a credit line; the core enterprise issues a
credential against invoices; suppliers accept it, split it down three tiers
and finance two pieces with two banks at different rates; a double-financing
attempt and an over-split are refused with the rule that stops them; at
maturity the core enterprise pays and every holder is cleared; then the
auditor re-derives the chain from the node's raw export and checks every
signature, hash link, Merkle root, stored row and receivable.

`ledger demo --network DIR` plays the same story on a local network
(client/local_consortium/network.py): three etcd members and four TLS nodes,
each organisation talking to its own node where it runs one (with fail-over to
the others).  The story moves months, so the network must be a *simulation*
network (`ledger network up --simulated-clock`): its nodes run on manual
clocks, and every advance moves all of them.  A network on system clocks is
refused.  Key steps wait until their block is final (signed by a quorum of
organisations); at the end the audit runs and every node must show the same
head hash at the same height, and the same final height.

With `consoles` (`ledger demo --console`) the story then leaves business in
flight (`act_five_for_the_consoles`: a credential held and split, a
financing offer to accept, a request to price, a credential to sign for),
and a web console is started beside each node with demo users
(client/local_consortium/demo_consoles.py); the network and the consoles
keep running until `ledger network down`.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from client.audit import AuditReport, audit_node
from client.audit.render import print_audit
from client.local_consortium.consortium import Consortium, init_consortium, node_id_of
from client.local_consortium.launcher import NodeProcess, start_node
from client.local_consortium.network import (
    NETWORK_FILE,
    NetworkError,
    network_down,
    network_up,
    running_network,
)
from client.sdk.http import NodeClient, NodeError
from client.sdk.participant import Participant, TransactionFailed
from ledger.crypto import sha256_hex
from ledger.money import format_fen
from ledger.timefmt import format_timestamp, parse_timestamp
from ledger.tx import Envelope

DEMO_PASSWORD = "demo-only-password"
GENESIS_TIME = datetime(2026, 1, 5, 9, 0, 0, tzinfo=UTC)
YUAN = 100
FINAL_TIMEOUT_S = 60.0  # how long a key step may take to be signed by a quorum
HEADS_TIMEOUT_S = 60.0  # how long the nodes may take to reach the same head
STORY_ALIASES = ("core", "tier1", "tier2a", "tier2b", "tier3", "bank_a", "bank_b", "auditor")


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
    """Plays the demo against a running node (or network) and prints a readable account.

    `clocks` are connections to every node whose manual clock the story
    moves (default: the auditor's node); with `finality`, key steps wait
    until their block is final and say so.
    """

    def __init__(self, cast: Cast, clock: DemoClock, console: Console, *,
                 clocks: Sequence[NodeClient] = (), finality: bool = False) -> None:
        self.cast = cast
        self.clock = clock
        self.out = console
        self.clocks = list(clocks)
        self.finality = finality
        self.receivable = ""
        self.notes: dict[str, str] = {}

    def today(self) -> date:
        """Return the story's business date."""
        return self.clock.now().date()

    def advance(self, days: int, why: str) -> None:
        """Move every node's clock and the story's forward by `days`."""
        moved = {str(node.post("/v1/admin/clock", {"days": days})["time"])
                 for node in self.clocks or [self.cast["auditor"].node]}
        self.clock.moment += timedelta(days=days)
        if moved != {format_timestamp(self.clock.moment)}:
            raise NetworkError(f"the nodes' clocks disagree after moving {days} days: "
                               f"{sorted(moved)}")
        self.out.rule(f"[bold]{self.today().isoformat()}[/]  {why}")
        if self.clocks:
            self.say(f"[dim]simulated clock moved {days} days on all {len(self.clocks)} "
                     f"nodes[/]")

    def final(self, who: Participant, status: dict[str, Any], what: str) -> None:
        """On a network, wait until `status`'s block is final and say so."""
        if not self.finality:
            return
        done = who.wait_final([str(status["tx_id"])], timeout=FINAL_TIMEOUT_S)[0]
        self.say(f"[green]final[/]: {what} — block {done.get('height')} is signed by a "
                 f"quorum of organisations")

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
        core=core.uscc, limit=yuan(50_000_000), currency="CNY",
        expiry_date=(story.today() + timedelta(days=360)).isoformat()))
    status = bank_a.submit([prepared.envelope()])[0]
    line = bank_a.transaction(status["tx_id"])["events"][0]["credit_line"]
    story.say(f"Bank A grants the core enterprise a credit line of "
              f"{format_fen(yuan(50_000_000))} CNY (both sign)")
    story.final(bank_a, status, "the credit line")
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
    story.final(core, issued, "the issuance")
    accepted = tier1.accept(story.receivable)
    story.notes["tier1"] = story.receivable
    story.say("the tier-1 supplier signs for it (签收): the credential is effective")
    story.final(tier1, accepted, "the acceptance")


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
    story.final(tier1, paid, "the tier-1 split")
    story.advance(2, "tier 2 pays tier 3")
    paid = tier2a.transfer(story.notes["tier2a"], [(tier3.uscc, yuan(1_500_000))])
    story.notes.update(tier2a=_note_of(paid, tier2a.uscc), tier3=_note_of(paid, tier3.uscc))
    paid = tier2b.transfer(story.notes["tier2b"], [(tier3.uscc, yuan(500_000))])
    story.notes.update(tier2b=_note_of(paid, tier2b.uscc), tier3b=_note_of(paid, tier3.uscc))
    story.say("Wuxi Castings pays Nantong Steel 1,500,000.00; Changzhou Motors pays it "
              "500,000.00")
    story.final(tier2b, paid, "the tier-2 splits")
    story.holdings("holdings after the splits")


def _finance(story: Story, seller: str, note: str, bank: str, **terms: Any) -> dict[str, Any]:
    cast = story.cast
    requested = cast[seller].request_financing(note, cast[bank].uscc)
    financing = requested["events"][0]["financing"]
    offered = cast[bank].offer_terms(financing, funding_date=story.today().isoformat(), **terms)
    priced = offered["events"][0]["terms"]
    cast[seller].accept_terms(financing, offered["events"][0]["terms_hash"])
    confirmed = cast[bank].confirm_disbursement(financing, f"{bank.upper()}-PAY-{financing[:8]}")
    story.final(cast[bank], confirmed, f"{story.cast.name_of(cast[bank].uscc)}'s disbursement")
    return {"financing": financing, **priced}


def act_three_financing(story: Story) -> None:
    """Two financings at different rates, then the two refused attempts."""
    cast = story.cast
    story.advance(5, "two holders have their notes financed")
    first = _finance(story, "tier1", story.notes["tier1"], "bank_a", annual_rate_percent="2.00")
    second = _finance(story, "tier3", story.notes["tier3"], "bank_b", annual_rate_percent="2.85",
                      fees=yuan(300), fee_payer="split", recourse=True,
                      registry_no="ZDW-2026-0123456")
    story.say("financed (ACT/360 from funding to maturity, half-up to the fen):")
    for seller, bank, terms in (("tier1", "bank_a", first), ("tier3", "bank_b", second)):
        recourse = "with recourse" if terms["recourse"] else "without recourse"
        story.say(
            f"  {cast.names[cast[seller].uscc]} -> {cast.names[cast[bank].uscc]}: "
            f"{format_fen(terms['face'])} at {terms['annual_rate_percent']} % a year for "
            f"{terms['days']} days = interest {format_fen(terms['interest'])}, fees "
            f"{format_fen(terms['fees'])} ({terms['fee_payer']}), net proceeds "
            f"[bold]{format_fen(terms['net_proceeds'])}[/], {recourse}")
    bank_note = cast["bank_a"].holdings()[0]["id"]
    story.refused(
        "Bank A offering its financed note to Bank B (double financing)",
        lambda: cast["bank_a"].request_financing(bank_note, cast["bank_b"].uscc))
    line = cast["core"].receivable(story.receivable)["receivable"]["credit_line"]
    story.refused(
        "a new credential against the already-used invoice INV-2026-0001, spelled "
        "'inv-2026-0001 ' (double financing)",
        lambda: cast["core"].issue(
            credit_line=line, to=cast["tier1"].uscc, amount=yuan(1_000_000), currency="CNY",
            maturity_date=(story.today() + timedelta(days=60)).isoformat(),
            contract_no="PO-2026-001",
            invoices=[{"seller": cast["tier1"].uscc, "number": "inv-2026-0001 ",
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
    story.final(cast["core"], paid, "the maturity payment")
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


def act_five_for_the_consoles(story: Story) -> None:
    """Leave business in flight, so that every console has something to show and to do.

    A new credential to the tier-1 supplier, accepted and split (a piece to
    Wuxi Castings); Bank A's offer on the supplier's remainder, awaiting its
    acceptance; Wuxi Castings' request to Bank A, awaiting terms; and a
    second credential awaiting the supplier's signature.
    """
    cast = story.cast
    core, tier1, tier2a, bank_a = (cast[a] for a in ("core", "tier1", "tier2a", "bank_a"))
    story.advance(1, "new business, left in flight for the consoles")
    line = core.receivable(story.receivable)["receivable"]["credit_line"]
    maturity = (story.today() + timedelta(days=90)).isoformat()

    def issue(amount: int, contract: str, invoice: str) -> dict[str, Any]:
        return core.issue(credit_line=line, to=tier1.uscc, amount=yuan(amount), currency="CNY",
                          maturity_date=maturity, contract_no=contract,
                          invoices=[{"seller": tier1.uscc, "number": invoice,
                                     "amount": yuan(amount), "allocated": yuan(amount)}])

    root = issue(8_000_000, "PO-2026-002", "INV-2026-0003")["events"][0]["receivable"]
    tier1.accept(root)
    paid = tier1.transfer(root, [(tier2a.uscc, yuan(2_000_000))])
    kept, piece = _note_of(paid, tier1.uscc), _note_of(paid, tier2a.uscc)
    story.say(f"a credential of 8,000,000.00 to Suzhou Precision, maturing {maturity}: "
              f"accepted, 2,000,000.00 paid on to Wuxi Castings")
    requested = tier1.request_financing(kept, bank_a.uscc)
    bank_a.offer_terms(requested["events"][0]["financing"],
                       funding_date=story.today().isoformat(), annual_rate_percent="2.40")
    story.say("Bank A offers to finance Suzhou Precision's 6,000,000.00 at 2.40 %: "
              "[bold]awaiting the supplier's acceptance[/]")
    tier2a.request_financing(piece, bank_a.uscc)
    story.say("Wuxi Castings asks Bank A to finance its 2,000,000.00: "
              "[bold]awaiting Bank A's terms[/]")
    pending = issue(3_000_000, "PO-2026-003", "INV-2026-0004")
    story.say("a credential of 3,000,000.00 to Suzhou Precision: "
              "[bold]awaiting the supplier's signature (签收)[/]")
    story.final(core, pending, "the business in flight")


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
                          manual_clock=format_timestamp(GENESIS_TIME),
                          clock_controllers=(consortium.orgs["auditor"]["uscc"],))
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
        _short_names(consortium),
    )
    console.print(f"[bold]Receivables ledger demo[/]: chain {consortium.chain_id}, node "
                  f"{node.url}, {len(cast.by_alias)} organisations")
    try:
        cleared, report = _tell(Story(cast, clock, console))
    finally:
        cast.close()
    return _cleared_in_full(console, cleared) and report.passed


def _short_names(consortium: Consortium) -> dict[str, str]:
    return {info["uscc"]: info["name"].split(" (")[-1].rstrip(")")
            for info in consortium.orgs.values()}


def _tell(story: Story) -> tuple[int, AuditReport]:
    """Play the four acts, then audit through the auditor's node."""
    act_one_credit_and_issue(story)
    act_two_splits(story)
    act_three_financing(story)
    cleared = act_four_maturity(story)
    report = audit_node(story.cast["auditor"].node)
    print_audit(story.out, report)
    return cleared, report


def _cleared_in_full(console: Console, cleared: int) -> bool:
    if cleared != yuan(10_000_000):
        console.print(f"[red]cleared {format_fen(cleared)} but the face is 10,000,000.00[/]")
        return False
    return True


# -- the same story on a local network -------------------------------------------------


def refusal_without_simulated_clock(directory: Path) -> str:
    """Explain why a network on system clocks cannot play the demo, and what to do."""
    return (f"the network running from {directory} uses the system clock: the demo's story "
            f"spans ninety days (issuance to maturity) and has to move time forward, which only "
            f"a simulation network allows.  Run `ledger demo --network NEW_DIR` to let the demo "
            f"start (and stop) one, or start one yourself with `ledger network up --dir NEW_DIR "
            f"--simulated-clock {format_timestamp(GENESIS_TIME)}`.")


def run_network_demo(directory: Path, console: Console | None = None, *,
                     password: str | None = None, keep_network: bool = False,
                     consoles: bool = False) -> bool:
    """Play the story on the network of `directory` (started here if none runs).

    A network started here is a simulation network from the demo's start date
    and is stopped at the end unless `keep_network`.  A running network must
    be a simulation network on a fresh chain; raises NetworkError otherwise.
    With `consoles`, a story that passed leaves business in flight and web
    consoles running beside the nodes, and the network keeps running.
    """
    console = console or Console()
    description = running_network(directory)
    started = description is None
    if description is None:
        if (directory / NETWORK_FILE).exists():
            raise NetworkError(
                f"{directory} holds a stopped network whose chain the story may already have "
                f"used; the story starts on a fresh chain: give a new directory")
        password = password or DEMO_PASSWORD
        console.print(f"starting a [bold]simulation network[/] in {directory}: 3 etcd members "
                      f"and 4 TLS nodes on manual clocks from "
                      f"{format_timestamp(GENESIS_TIME)}")
        description = network_up(directory, password,
                                  simulated_clock=format_timestamp(GENESIS_TIME))
    elif not description.get("simulated_clock"):
        raise NetworkError(refusal_without_simulated_clock(directory))
    elif password is None:
        raise NetworkError("give the network's keystore password (--password or LEDGER_PASSWORD)")
    kept = keep_network
    try:
        passed = _play_network(description, password, console, for_consoles=consoles)
        if passed and consoles:
            _open_consoles(directory, password, console)
            kept = True  # the consoles need it; _open_consoles said how to stop them all
            return passed
        if started and kept:
            console.print(f"the network keeps running: stop it with "
                          f"`ledger network down --dir {directory}`")
        return passed
    finally:
        if started and not kept:
            stopped = network_down(directory)
            console.print(f"network stopped: {len(stopped)} processes "
                          f"({sum('node' in s for s in stopped)} nodes, "
                          f"{sum('etcd' in s for s in stopped)} etcd members)")


def _open_consoles(directory: Path, password: str, console: Console) -> None:
    """Start the consoles beside the nodes and say where they are and how to log in."""
    from client.local_consortium.demo_consoles import start_consoles

    console.rule("[bold]web consoles[/]")
    entries = start_consoles(directory, password)
    table = Table(title="consoles (TOTP off; each action needs its maker and its checker)",
                  title_justify="left")
    for column in ("organisation", "open", "log in as (name / password)"):
        table.add_column(column, no_wrap=column == "open")
    for entry in entries:
        table.add_row(entry.name, entry.url,
                      "\n".join(f"{n} / {pw}  ({role})" for n, role, pw in entry.logins))
    console.print(table)
    for entry in entries:  # one plain line each, for copying (and for scripts)
        console.print(f"console {entry.alias}: {entry.url}  logins: "
                      + ", ".join(f"{n}/{pw}" for n, _role, pw in entry.logins),
                      soft_wrap=True, highlight=False, markup=False)
    console.print(f"the network and the consoles keep running: stop them all with "
                  f"`ledger network down --dir {directory}`", soft_wrap=True)


def node_routes(node_aliases: Sequence[str], aliases: Sequence[str]) -> dict[str, list[str]]:
    """Return, per organisation, the node aliases it talks to, in fail-over order.

    An organisation running a node uses its own first; the others are spread
    over the nodes in turn.  Every list holds every node.
    """
    routes = {}
    spread = 0
    for alias in aliases:
        if alias in node_aliases:
            home = alias
        else:
            home = node_aliases[spread % len(node_aliases)]
            spread += 1
        routes[alias] = [home, *(a for a in node_aliases if a != home)]
    return routes


def _play_network(description: dict[str, Any], password: str, console: Console, *,
                  for_consoles: bool = False) -> bool:
    consortium = Consortium.open(Path(description["consortium"]))
    urls = {n["alias"]: n["url"] for n in description["nodes"]}
    missing = [a for a in STORY_ALIASES if a not in consortium.orgs]
    if missing:
        raise NetworkError(f"the network's consortium lacks the story's organisations {missing}")
    names = _short_names(consortium)
    auditor_tls = consortium.tls_context("auditor", password)
    auditor_identity = consortium.identity("auditor", password)
    start = parse_timestamp(description["simulated_clock"])
    probe = {alias: NodeClient(url, auditor_identity, chain_id=consortium.chain_id,
                               now=lambda: start, tls=auditor_tls)
             for alias, url in urls.items()}
    try:  # signed at the recorded start: refused if a node's clock has moved since
        heights = {a: int(c.get("/v1/status")["height"]) for a, c in probe.items()}
        times = {str(c.get("/v1/status")["time"]) for c in probe.values()}
    except NodeError as exc:
        raise NetworkError(f"the network's nodes do not take requests dated at its start "
                           f"{description['simulated_clock']} ({exc}); the story starts on a "
                           f"fresh network: give a new directory") from exc
    finally:
        for client in probe.values():
            client.close()
    if any(heights.values()):
        raise NetworkError(f"the network's chain already has blocks ({heights}); the story "
                           f"starts on a fresh chain: give a new directory")
    if len(times) != 1:
        raise NetworkError(f"the nodes' simulated clocks disagree: {sorted(times)}")
    clock = DemoClock(parse_timestamp(times.pop()))
    routes = node_routes(list(urls), list(consortium.orgs))
    clocks = [NodeClient(url, auditor_identity, chain_id=consortium.chain_id, now=clock.now,
                         tls=auditor_tls) for url in urls.values()]
    cast = Cast({alias: SyncedParticipant([urls[a] for a in routes[alias]],
                                          consortium.identity(alias, password),
                                          chain_id=consortium.chain_id, now=clock.now,
                                          tls=consortium.tls_context(alias, password),
                                          nodes=clocks)
                 for alias in consortium.orgs}, names)
    console.print(f"[bold]Receivables ledger demo on a network[/]: chain {consortium.chain_id}, "
                  f"{len(urls)} nodes ordering through {len(description['etcd'])} etcd members, "
                  f"{len(cast.by_alias)} organisations; [yellow]simulation[/]: the nodes run on "
                  f"manual clocks the story moves together")
    for alias, route in routes.items():
        console.print(f"  {names[consortium.orgs[alias]['uscc']]} talks to "
                      f"{node_id_of(route[0])} (fail-over: "
                      f"{', '.join(node_id_of(a) for a in route[1:])})")
    try:
        story = Story(cast, clock, console, clocks=clocks, finality=True)
        cleared, report = _tell(story)
        identical = same_heads(console, clocks)
        if for_consoles and report.passed and identical:
            act_five_for_the_consoles(story)
    finally:
        cast.close()
        for client in clocks:
            client.close()
    return _cleared_in_full(console, cleared) and report.passed and identical


class SyncedParticipant(Participant):
    """A participant on a network whose submissions return once every node has applied them.

    A node checks a submission against its own state, so the next party of
    the story, talking to another node, must find the previous step there:
    after a commit this waits until every node's head reaches its block.
    """

    def __init__(self, *args: Any, nodes: Sequence[NodeClient], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.nodes = nodes

    def submit(self, envelopes: Sequence[Envelope], *, wait: bool = True, check: bool = True,
               timeout: float = 30.0, resubmit: bool = False) -> list[dict[str, Any]]:
        """Submit as Participant.submit; with `wait`, also wait for every node to apply it."""
        results = super().submit(envelopes, wait=wait, check=check, timeout=timeout,
                                 resubmit=resubmit)
        heights = [int(s["height"]) for s in results if isinstance(s.get("height"), int)]
        if wait and heights:
            reach_height(self.nodes, max(heights), timeout)
        return results


def reach_height(nodes: Sequence[NodeClient], height: int, timeout: float) -> None:
    """Wait until every node's head is at `height` or beyond."""
    deadline = time.monotonic() + timeout
    for node in nodes:
        while int(node.get("/v1/status")["height"]) < height:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{node.base_url} has not reached block {height} after "
                                   f"{timeout:.0f} s")
            time.sleep(0.05)


def same_heads(console: Console, nodes: Sequence[NodeClient],
               timeout: float = HEADS_TIMEOUT_S) -> bool:
    """Wait until every node shows the same head and it is final; print and return whether so."""
    deadline = time.monotonic() + timeout
    while True:
        statuses = [dict(node.get("/v1/status")) for node in nodes]
        heads = {(s["height"], s["head_hash"], s["final_height"]) for s in statuses}
        agreed = len(heads) == 1 and statuses[0]["final_height"] == statuses[0]["height"]
        if agreed or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    table = Table(title="node heads", title_justify="left")
    for column in ("node", "height", "head hash", "final height"):
        table.add_column(column, justify="right" if "height" in column else "left")
    for status in statuses:
        table.add_row(str(status["node_id"]), str(status["height"]), str(status["head_hash"]),
                      str(status["final_height"]))
    console.print(table)
    if agreed:
        first = statuses[0]
        console.print(f"  [green]identical heads[/] on all {len(statuses)} nodes: height "
                      f"{first['height']}, hash {str(first['head_hash'])[:16]}…, final height "
                      f"{first['final_height']} (every block signed by a quorum of "
                      f"organisations)")
    else:
        console.print(f"  [red]the nodes' heads differ[/] after {timeout:.0f} s")
    return agreed
