"""On writes too, a refusal tells a member nothing about records that are not its own.

Found by the outside test: naming someone else's note answered "the holder
signs the transfer" and naming a made-up id "the note exists", so any member
could probe which ids exist.  Now an action first asks whether the party
entitled to act signed, and a record that does not exist fails that same
rule, in the same words ("note 1a2b3c4d… is unknown, or not held by <the
signer>"); status and other details are checked and told only after that.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ledger.errors import rule_of
from tests.builders import MemoryChain
from tests.contracts.support import Deal, Split, issue_args, pay_to, refused, said, short

UNKNOWN = "cd" * 32

def _financing(s: Split) -> str:
    r = s.c.ok("s2", "request_financing", note=s.paid, bank=s.c.uscc("b1"))
    return str(r.events[0]["financing"])


# action, a signer who may not act on the record, the record's id, the args naming an id, rule
CASES: dict[str, tuple[str, str, Callable[[Split], str], Callable[[Split, str], dict[str, Any]],
                       str]] = {
    "transfer": ("transfer", "s3", lambda s: s.paid,
                 lambda s, i: {"note": i, "payments": pay_to(s.c, "s4", 10_000)},
                 "the holder signs the transfer"),
    "request_financing": ("request_financing", "s3", lambda s: s.paid,
                          lambda s, i: {"note": i, "bank": s.c.uscc("b1")},
                          "the holder signs the financing request"),
    "accept": ("accept", "s3", lambda s: s.root, lambda s, i: {"receivable": i},
               "the receiving supplier signs the acceptance"),
    "withdraw": ("withdraw", "core2", lambda s: s.root, lambda s, i: {"receivable": i},
                 "only the issuer withdraws a credential"),
    "pay": ("pay", "core2", lambda s: s.root,
            lambda s, i: {"receivable": i, "amount": 100, "payment_ref": "P"},
            "the issuing core enterprise records the payment"),
    "mark_overdue": ("mark_overdue", "s4", lambda s: s.root, lambda s, i: {"receivable": i},
                     "the issuer or a holder of the credential records it overdue"),
    "offer_terms": ("offer_terms", "b2", _financing,
                    lambda s, i: {"financing": i, "annual_rate_percent": "2", "fees": 0,
                                  "funding_date": "2026-01-05", "fee_payer": "seller",
                                  "recourse": True},
                    "the bank asked signs the terms"),
    "cancel_financing": ("cancel_financing", "s4", _financing, lambda s, i: {"financing": i},
                         "the seller or the bank cancels a financing request"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_someone_elses_record_and_a_missing_one_are_refused_alike(split: Split,
                                                                  case: str) -> None:
    action, outsider, existing, args, rule = CASES[case]
    real = existing(split)
    said_of = {}
    for target in (real, UNKNOWN):
        result = refused(split.c, outsider, action, **args(split, target))
        assert (result.code, rule_of(result.reason)) == ("contract_violation", rule), target
        said_of[target] = result.reason.replace(short(target), "<id>")
    assert said_of[real] == said_of[UNKNOWN]
    assert " is unknown, or not " in said_of[real]
    _names_no_one_but(split.c, outsider, said_of[real])


def _names_no_one_but(c: MemoryChain, signer: str, reason: str) -> None:
    """Assert `reason` names no organisation but the signer (it may quote the signer back)."""
    assert [name for name in c.orgs if name != signer and c.uscc(name) in reason] == []


def test_an_outsider_learns_nothing_of_a_credentials_status(active: Deal) -> None:
    """Accepting an already accepted credential: its receiver is told, anyone else is not."""
    mine = refused(active.c, "s1", "accept", receivable=active.root)
    theirs = refused(active.c, "s2", "accept", receivable=active.root)
    assert mine.reason == said("the credential is pending acceptance",
                               f"credential {short(active.root)} is already accepted "
                               "(on 2026-01-05)")
    assert theirs.reason == said("the receiving supplier signs the acceptance",
                                 f"credential {short(active.root)} is unknown, or not issued to "
                                 f"{active.c.uscc('s2')}")


def test_issuing_on_someone_elses_credit_line_is_refused_like_a_missing_line(
    active: Deal
) -> None:
    c = active.c
    for line in (active.line, UNKNOWN):
        result = refused(c, "core2", "issue", **issue_args(c, line))
        assert result.reason == said(
            "the core enterprise of the credit line signs the issuance",
            f"credit line {short(line)} is unknown, or not granted to {c.uscc('core2')}")
