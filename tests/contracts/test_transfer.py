"""Split and transfer (拆分/流转): who may move a note, when, to whom and in what pieces.

Only the current holder moves a note, only while it is active (not pending,
not under a financing request, not spent, not matured, not frozen); every
piece respects the policy minimum, and depth and fan-out stay within policy.
"""

from __future__ import annotations

import pytest

from tests.builders import MemoryChain
from tests.contracts.support import (
    AUDITOR,
    FACE,
    STRANGER,
    Deal,
    Split,
    assert_conserved,
    grant_line,
    issue,
    new_chain,
    pay_to,
    refused,
    said,
    set_member,
    short,
)


def test_transfer_splits_and_keeps_the_remainder(split: Split) -> None:
    paid, rest, parent = split.note(split.paid), split.note(split.rest), split.note(split.root)
    assert (paid["holder"], paid["amount"]) == (split.c.uscc("s2"), 30_000_000)
    assert (rest["holder"], rest["amount"]) == (split.c.uscc("s1"), 70_000_000)
    assert parent["status"] == "spent"
    for child in (paid, rest):
        assert (child["parent_id"], child["root_id"], child["depth"]) == (split.root,) * 2 + (1,)
        assert child["issuer"] == parent["issuer"]
        assert child["maturity_date"] == parent["maturity_date"]
        assert child["currency"] == parent["currency"]
    assert split.rec()["live"] == [split.paid, split.rest]
    assert_conserved(split.c, split.root)


def test_one_transfer_pays_several_recipients(active: Deal) -> None:
    c = active.c
    payments = pay_to(c, "s2", 10_000_000) + pay_to(c, "s3", 20_000_000)
    r = c.ok("s1", "transfer", note=active.root, payments=payments)
    outputs = [(o["holder"], o["amount"]) for o in r.events[0]["outputs"]]
    names = ["s2", "s3", "s1"]
    assert outputs == [(c.uscc(n), a) for n, a in zip(names, [10_000_000, 20_000_000, 70_000_000],
                                                       strict=True)]
    assert_conserved(c, active.root)


def test_transfer_of_the_whole_note_leaves_no_remainder(active: Deal) -> None:
    r = active.c.ok("s1", "transfer", note=active.root, payments=pay_to(active.c, "s2", FACE))
    assert [o["amount"] for o in r.events[0]["outputs"]] == [FACE]


def test_only_the_current_holder_can_transfer(split: Split) -> None:
    r = refused(split.c, "s1", "transfer", note=split.paid, payments=pay_to(split.c, "s3", 10_000))
    assert r.reason == said(
        "the holder signs the transfer",
        f"note {short(split.paid)} is unknown, or not held by {split.c.uscc('s1')}")
    split.c.ok("s2", "transfer", note=split.paid, payments=pay_to(split.c, "s3", 10_000))


def test_spent_note_cannot_move(split: Split) -> None:
    r = refused(split.c, "s1", "transfer", note=split.root, payments=pay_to(split.c, "s3", 10_000))
    assert r.reason == said("the note is active (not spent, settled or void)",
                            f"note {short(split.root)} is spent")


def test_pending_note_cannot_move(pending: Deal) -> None:
    c = pending.c
    r = refused(c, "s1", "transfer", note=pending.root, payments=pay_to(c, "s2", 10_000))
    assert r.reason == said("the note is not pending acceptance",
                            f"note {short(pending.root)} is pending acceptance")


def test_note_under_financing_request_cannot_move(split: Split) -> None:
    c = split.c
    request = c.ok("s2", "request_financing", note=split.paid, bank=c.uscc("b1"))
    financing = request.events[0]["financing"]
    r = refused(c, "s2", "transfer", note=split.paid, payments=pay_to(c, "s3", 10_000))
    assert r.reason == said(
        "the note is not under a financing request",
        f"note {short(split.paid)} is under financing request {short(financing)}")


def test_matured_note_cannot_move(split: Split) -> None:
    c = split.c
    c.advance(days=89)
    c.ok("s2", "transfer", note=split.paid, payments=pay_to(c, "s3", 10_000))
    c.advance(days=1)  # 2026-04-05, the maturity date
    r = refused(c, "s1", "transfer", note=split.rest, payments=pay_to(c, "s3", 10_000))
    assert r.reason == said("the note has not matured",
                            f"note {short(split.rest)} reached maturity on 2026-04-05")


def test_overdue_note_cannot_move(split: Split) -> None:
    """Overdue implies matured, so the maturity rule is the one that answers."""
    c = split.c
    c.advance(days=94)
    c.ok("core", "mark_overdue", receivable=split.root)
    r = refused(c, "s1", "transfer", note=split.rest, payments=pay_to(c, "s3", 10_000))
    assert r.reason == said("the note has not matured",
                            f"note {short(split.rest)} reached maturity on 2026-04-05")


def test_frozen_note_cannot_move(split: Split) -> None:
    c = split.c
    c.ok("auditor", "freeze", note=split.paid, reason="court order 2026-001")
    r = refused(c, "s2", "transfer", note=split.paid, payments=pay_to(c, "s3", 10_000))
    assert r.reason == said("the note is not frozen", f"note {short(split.paid)} is frozen")
    c.ok("auditor", "unfreeze", note=split.paid, reason="order lifted")
    c.ok("s2", "transfer", note=split.paid, payments=pay_to(c, "s3", 10_000))


def test_only_a_freeze_authority_freezes(split: Split) -> None:
    r = refused(split.c, "core", "freeze", note=split.paid, reason="dispute")
    assert r.reason == said(
        "only a designated freeze authority freezes or unfreezes a note",
        f"{split.c.uscc('core')} is not one of the freeze authorities ({AUDITOR})")
    assert split.c.get("policy/freeze_authorities")[0]["value"] == [AUDITOR]


def test_freeze_and_unfreeze_are_not_repeated(split: Split) -> None:
    r = refused(split.c, "auditor", "unfreeze", note=split.paid, reason="nothing to lift")
    assert r.reason == said("the note is frozen", f"note {short(split.paid)} is not frozen")
    split.c.ok("auditor", "freeze", note=split.paid, reason="court order")
    r = refused(split.c, "auditor", "freeze", note=split.paid, reason="again")
    assert r.reason == said("the note is not already frozen",
                            f"note {short(split.paid)} is already frozen")


def test_a_freeze_of_an_unknown_note_names_it(split: Split) -> None:
    """The freeze authority sees every note, so it is told plainly that there is none."""
    r = refused(split.c, "auditor", "freeze", note="ab" * 32, reason="court order")
    assert r.reason == said("the note exists", "note abababab\u2026 not found")


def test_where_no_freeze_authority_is_designated_the_refusal_says_so() -> None:
    c, root = _chain_with(freeze_authorities=[])
    r = refused(c, "auditor", "freeze", note=root, reason="court order")
    assert r.reason == said("only a designated freeze authority freezes or unfreezes a note",
                            f"{c.uscc('auditor')} is not one of the freeze authorities "
                            "(none is designated)")


@pytest.mark.parametrize(("pay", "piece"), [(9_999, "piece 99.99"),
                                            (FACE - 9_999, "the remainder 99.99"),
                                            (5_000, "piece 50.00")])
def test_each_split_piece_is_at_least_the_minimum(active: Deal, pay: int, piece: str) -> None:
    r = refused(active.c, "s1", "transfer", note=active.root, payments=pay_to(active.c, "s2", pay))
    assert r.reason == said("each split piece is at least the minimum amount",
                            f"{piece} is below the minimum 100.00")
    active.c.ok("s1", "transfer", note=active.root, payments=pay_to(active.c, "s2", 10_000))


def _chain_with(**policies: int) -> tuple[MemoryChain, str]:
    c = new_chain(**policies)
    root = issue(c, grant_line(c))
    c.ok("s1", "accept", receivable=root)
    return c, root


def test_split_depth_and_children_within_policy() -> None:
    c, root = _chain_with(max_split_depth=2, max_children=3)
    three = pay_to(c, "s2", 10_000) + pay_to(c, "s3", 10_000) + pay_to(c, "s4", 10_000)
    r = refused(c, "s1", "transfer", note=root, payments=three)  # 3 payments + remainder
    assert r.reason == said("a note splits into no more pieces than policy allows",
                            "4 pieces (the remainder included) are more than the 3 allowed")
    child = c.ok("s1", "transfer", note=root, payments=pay_to(c, "s2", FACE)).events[0]
    grandchild = c.ok("s2", "transfer", note=child["outputs"][0]["note"],
                      payments=pay_to(c, "s3", FACE)).events[0]["outputs"][0]["note"]
    r = refused(c, "s3", "transfer", note=grandchild, payments=pay_to(c, "s4", FACE))
    assert r.reason == said(
        "the split tree is no deeper than policy allows",
        f"the pieces of note {short(grandchild)} would be at depth 3, deeper than the 2 allowed")


def test_split_into_exactly_the_allowed_pieces() -> None:
    c, root = _chain_with(max_children=3)
    two = pay_to(c, "s2", 10_000) + pay_to(c, "s3", 10_000)
    assert len(c.ok("s1", "transfer", note=root, payments=two).events[0]["outputs"]) == 3


@pytest.mark.parametrize(("recipient", "roles"), [("b1", "bank"), ("core", "core_enterprise"),
                                                   ("auditor", "auditor")])
def test_transfer_recipient_must_be_supplier(active: Deal, recipient: str, roles: str) -> None:
    c = active.c
    r = refused(c, "s1", "transfer", note=active.root, payments=pay_to(c, recipient, 10_000))
    assert r.reason == said(
        "each recipient is an active member with the supplier role",
        f"recipient {c.uscc(recipient)} does not have the supplier role (its roles: {roles})")


def test_a_recipient_that_is_no_member_or_suspended_is_named(active: Deal) -> None:
    c = active.c
    r = refused(c, "s1", "transfer", note=active.root, payments=[{"to": STRANGER,
                                                                  "amount": 10_000}])
    assert r.reason == said("each recipient is an active member with the supplier role",
                            f"recipient {STRANGER} is not a member")
    set_member(c, "s2", status="suspended")
    r = refused(c, "s1", "transfer", note=active.root, payments=pay_to(c, "s2", 10_000))
    assert r.reason == said("each recipient is an active member with the supplier role",
                            f"recipient {c.uscc('s2')} is suspended")


def test_holder_does_not_pay_itself(active: Deal) -> None:
    r = refused(active.c, "s1", "transfer", note=active.root,
                payments=pay_to(active.c, "s1", 10_000))
    assert r.reason == said(
        "a holder does not pay itself",
        f"the holder {active.c.uscc('s1')} of note {short(active.root)} is among the recipients")


def test_payments_do_not_exceed_the_note(split: Split) -> None:
    c = split.c
    payments = pay_to(c, "s3", 20_000_000) + pay_to(c, "s4", 10_000_001)
    r = refused(c, "s2", "transfer", note=split.paid, payments=payments)
    assert r.reason == said(
        "the payments do not exceed the note's amount",
        f"the payments add up to 300,000.01, more than the 300,000.00 of note {short(split.paid)}")


def test_each_payment_names_exactly_to_and_amount(active: Deal) -> None:
    payments = [{**pay_to(active.c, "s2", 10_000)[0], "memo": "x"}]
    r = refused(active.c, "s1", "transfer", note=active.root, payments=payments)
    assert (r.code, r.reason) == ("bad_schema",
                                  "each payment has exactly amount and to (unknown memo)")
    del payments[0]["to"]
    r = refused(active.c, "s1", "transfer", note=active.root, payments=payments)
    assert r.reason == "each payment has exactly amount and to (missing to; unknown memo)"
