"""An approval the console was signing when it stopped is not left 'signing' for ever."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select, update

from client.console import approvals, users
from client.console.store import approvals as approvals_table
from client.console.store import audit, open_database

RECEIVABLE = "ab" * 32


def test_a_console_started_again_settles_approvals_it_was_signing(tmp_path: Path) -> None:
    # Left open by the console's first version: a crash between claiming an approval and
    # recording the node's answer left it 'signing', which also blocked any new approval of
    # the same credential ("already awaits approval") for good.
    engine = open_database(f"sqlite:///{tmp_path / 'console.db'}")
    li = users.add_user(engine, name="li", role="maker", password="a-long-password", by="t")
    first = approvals.prepare(engine, li, "accept", {"receivable": RECEIVABLE},
                              subject=RECEIVABLE, facts={})
    with engine.begin() as db:  # as the checker's approval left it when the process died
        db.execute(update(approvals_table).where(approvals_table.c.id == first)
                   .values(state=approvals.SIGNING, decided_by="wang"))

    assert approvals.settle_interrupted(engine) == 1
    settled = approvals.find(engine, first)
    assert settled.state == approvals.REFUSED
    assert "stopped while signing" in (settled.outcome or "")
    with engine.connect() as db:
        trail = db.execute(select(audit.c.event, audit.c.detail)
                           .where(audit.c.approval_id == first)).all()
    assert any(event == "refused" and "look it up" in detail for event, detail in trail)
    again = approvals.prepare(engine, li, "accept", {"receivable": RECEIVABLE},
                              subject=RECEIVABLE, facts={})  # no longer blocked
    assert again != first
    assert approvals.settle_interrupted(engine) == 0  # a pending one is left alone
