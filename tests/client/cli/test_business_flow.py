"""The whole business flow with the `ledger` command only, as people would type it.

On a simulation network started by `ledger network up`, a bank and a core
enterprise agree a credit line, the core enterprise issues a credential, the
supplier finds it in its inbox and accepts it, pays two of its suppliers
with pieces, one of them has its piece financed (the bank sees the request,
the holder the terms and net proceeds), the auditor moves the clock to
maturity, the core enterprise pays and every holder is cleared; the auditor
audits.  Every step checks what a person reads: names, yuan, the split tree,
the inbox at each step.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from client.local_consortium.network import network_down
from tests.etcd import need_etcd

pytestmark = [pytest.mark.slow, pytest.mark.etcd]

LEDGER = str(Path(sys.executable).parent / "ledger")
START = "2026-01-05T09:00:00Z"
TIER1 = "苏州精密部件有限公司 (Suzhou Precision)"
TIER2A = "无锡铸造有限公司 (Wuxi Castings)"
TIER2B = "常州电机有限公司 (Changzhou Motors)"
CORE = "华东重工集团有限公司 (East China Heavy)"
BANK = "招商银行上海分行 (Bank A)"


class Person:
    """Someone at a terminal: runs `ledger` commands and reads what they print."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
        self.env.update({"LEDGER_PASSWORD": "flow-password",
                         "LEDGER_CONSORTIUM": str(folder / "sim"), "COLUMNS": "200"})

    def run(self, line: str, *, ok: bool = True) -> str:
        """Run `ledger` with the words of `line` (split like a shell, quotes kept together)."""
        done = subprocess.run([LEDGER, *shlex.split(line)], cwd=self.folder, env=self.env,
                              capture_output=True, text=True, timeout=300, check=False)
        said = done.stdout + done.stderr
        assert "Traceback" not in said, said
        assert (done.returncode == 0) == ok, f"ledger {line}\n{said}"
        return " ".join(said.split()) if not ok else done.stdout


@pytest.fixture
def person(tmp_path: Path) -> Iterator[Person]:
    need_etcd()
    someone = Person(tmp_path)
    try:
        someone.run(f"network up --dir ./sim --simulated-clock {START}")
        yield someone
    finally:
        network_down(tmp_path / "sim")


def test_credit_line_to_maturity_clearing_with_the_cli_only(person: Person) -> None:
    run = person.run
    members = run("--as core members")
    assert TIER1 in members and "core_enterprise" in members

    # the credit line: proposed by the bank, co-signed by the core enterprise
    proposed = run("--as bank_a credit-line --core core --limit 50,000,000.00 "
                   "--expiry 2026-12-31 --out line.json")
    assert "50,000,000.00 CNY" in proposed and CORE in proposed
    run("--as core cosign line.json")
    lines = run("--as core credit-lines")
    assert "50,000,000.00 CNY" in lines and "Bank A" in lines

    # issuance: the supplier's inbox shows the credential to accept
    root = run("--as core issue --to tier1 --amount 10,000,000.00 --maturity 2026-04-05 "
               "--contract-no PO-2026-001 --invoice INV-2026-001:10,000,000.00 --quiet").strip()
    assert len(root) == 64
    inbox = run("--as tier1 inbox")
    assert "credential to accept or reject" in inbox and root[:12] in inbox
    assert "10,000,000.00 CNY" in inbox and "East China Heavy" in inbox
    assert "nothing awaits you" in run("--as tier2a inbox")
    waiting = run("--as core inbox")
    assert "awaiting the supplier's acceptance" in waiting

    accepted = run(f"--as tier1 accept {root[:8]}")
    assert "acceptance committed" in accepted
    assert "nothing awaits you" in run("--as tier1 inbox")

    # pieces for two suppliers, named by alias and by (part of) the name
    paid = run(f'--as tier1 transfer {root} --pay tier2a:4,000,000.00 '
               f'--pay "Changzhou Motors:1,500,000.00"')
    assert "4,000,000.00 CNY to " + TIER2A in paid and "1,500,000.00 CNY" in paid
    tree = run(f"--as core receivable {root}")
    assert "10,000,000.00 CNY" in tree and "└──" in tree
    for amount, holder in (("4,000,000.00", TIER2A), ("1,500,000.00", TIER2B),
                           ("4,500,000.00", TIER1)):
        assert any(amount in line and holder in line for line in tree.splitlines()), tree

    # financing: the bank sees the request, the holder the terms and net proceeds
    note = run("--as tier2a notes --quiet").strip()
    assert len(note.split()) == 1
    financing = run(f"--as tier2a finance request {note} --bank bank_a --quiet").strip()
    bank_inbox = run("--as bank_a inbox")
    assert "financing request to price" in bank_inbox and "Wuxi Castings" in bank_inbox
    offered = run(f"--as bank_a finance offer {financing[:10]} --rate-percent 3.20 "
                  "--funding-date 2026-01-05")
    assert "3.20 % a year" in offered and "net proceeds" in offered
    holder_inbox = run("--as tier2a inbox")
    assert "financing offer to accept" in holder_inbox and "3.20 % a year" in holder_inbox
    shown = run(f"--as tier2a finance show {financing[:8]}")
    assert "interest:" in shown and "net proceeds:" in shown and "90 (from 2026-01-05" in shown
    accepted_terms = run(f"--as tier2a finance accept {financing} --yes")
    assert "Terms offered by " + BANK in accepted_terms
    assert "financing committed" in accepted_terms
    assert "disbursement to confirm" in run("--as bank_a inbox")
    run(f"--as bank_a finance confirm {financing} --payment-ref CMB-TT-0001")
    assert "disbursed" in run("--as bank_a financings")

    # maturity: the payment falls due, the clock moves, the core enterprise pays
    due = run("--as core inbox --within-days 90")
    assert "payment falling due" in due and "10,000,000.00 CNY" in due
    run("--as auditor clock advance --days 90")
    cleared = run(f"--as core pay {root} --amount 10,000,000.00 --reference CMB-2026-0405")
    assert "paid 10,000,000.00 CNY" in cleared and "fully paid" in cleared
    settled = run("--as tier2b notes --all")
    assert "settled" in settled and "1,500,000.00 CNY" in settled
    assert "paid" in run("--as core credentials")
    assert "nothing awaits you" in run("--as core inbox")

    # the auditor's independent check of every node
    assert "PASSED" in run("--as auditor audit")
