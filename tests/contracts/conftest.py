"""Fixtures for the contract tests: a chain, a credit line, and a credential at each stage.

`pending` is issued to s1 (1,000,000.00 CNY, maturing in 90 days, on b1's
line to core), `active` is that credential accepted, and `split` is it after
s1 paid s2 300,000.00, keeping 700,000.00.
"""

from __future__ import annotations

import pytest

from tests.builders import MemoryChain
from tests.contracts.support import Deal, Split, grant_line, issue, new_chain, pay_to


@pytest.fixture
def chain() -> MemoryChain:
    """A fresh chain with default policies; the auditor is the freeze authority."""
    return new_chain()


@pytest.fixture
def line(chain: MemoryChain) -> str:
    """b1's 5,000,000.00 CNY credit line to core, expiring 2026-12-31."""
    return grant_line(chain)


@pytest.fixture
def pending(chain: MemoryChain, line: str) -> Deal:
    """A credential issued to s1, not yet accepted."""
    return Deal(chain, line, issue(chain, line))


@pytest.fixture
def active(pending: Deal) -> Deal:
    """The credential accepted by s1: one active note of the full face."""
    pending.c.ok("s1", "accept", receivable=pending.root)
    return pending


@pytest.fixture
def split(active: Deal) -> Split:
    """The active credential after s1 paid s2 30,000,000 fen from it."""
    c = active.c
    r = c.ok("s1", "transfer", note=active.root, payments=pay_to(c, "s2", 30_000_000))
    paid, rest = (o["note"] for o in r.events[0]["outputs"])
    return Split(c, active.line, active.root, paid=paid, rest=rest)
