"""Hostile transactions for the property tests: every action, arbitrary JSON in any position.

`TEMPLATES` holds, for every action of every contract, a valid transaction
in a running story (who signs it, and its arguments).  `hostile_args`
breaks one of them: it replaces the value at one position of the argument
tree (a top-level argument or anything nested inside it) with arbitrary
JSON (any type and nesting, NUL and other control characters, non-ASCII,
numbers far beyond what the schema allows, floats), or adds an argument, or
drops one.  `signed_wire` signs the result as a plausible signer would, even
where the body cannot be canonical JSON.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from hypothesis import strategies as st

from contracts import CONTRACTS
from ledger.canonical import canonical_bytes
from ledger.crypto import Domain
from ledger.errors import EncodingError
from ledger.timefmt import format_timestamp
from ledger.tx import Signature, TxBody
from tests.builders import Org

EVERY_ACTION = frozenset((c, a) for c, actions in CONTRACTS.items() for a in actions)

SPECIAL_TEXT = ["", " ", "\x00", "\x00x", "a\x00b", "\n", "CNY", "\uff23\uff2e\uff39", "cny",
                "0" * 64, "ab" * 32, "AB" * 32, "2026-02-30", "2026-04-05", "9999-12-31",
                "2.5", "24.0001", "-1", "1e3", "NaN", "seller", "set_policy", "grace_days",
                "发票-1", "\u200e", "x" * 300]
SPECIAL_INTS = [0, 1, -1, 99, 10_000, 2**31, 2**53 - 1, 2**53, 2**63, 2**64, 10**30, -(2**53)]


PLAUSIBLE = [True, False, 1, 100, 10_000, 1_000_000, 30_000_000, 100_000_000, "2026-01-05",
             "2026-01-06", "2026-04-05", "2027-01-05", "1", "2.00", "24", "seller", "buyer",
             "split", "INV-1", "inv-1 ", "P-1"]


def json_values(extra_text: list[str]) -> st.SearchStrategy[Any]:
    """Return arbitrary JSON values, leaning on the edges a schema must handle."""
    scalars = (
        st.none() | st.booleans()
        | st.integers(min_value=-(2**70), max_value=2**70) | st.sampled_from(SPECIAL_INTS)
        | st.text(st.characters(blacklist_categories=("Cs",)), max_size=24)
        | st.sampled_from(SPECIAL_TEXT + extra_text)
        | st.floats(allow_nan=False, allow_infinity=False, width=32)
    )
    return st.recursive(
        scalars,
        lambda inner: (st.lists(inner, max_size=4)
                       | st.dictionaries(st.text(max_size=10), inner, max_size=4)),
        max_leaves=8,
    )


def plausible_values(extra_text: list[str]) -> st.SearchStrategy[Any]:
    """Return values of the right shape but maybe the wrong meaning: ids, USCCs, amounts, dates.

    They get past the schema and reach the business rules (who signs, which
    record, how much, when).
    """
    return st.sampled_from(PLAUSIBLE + extra_text)


def positions(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Return the path of every value inside `value` (dict keys and list indexes)."""
    found = [path] if path else []
    if isinstance(value, dict):
        for key, inner in value.items():
            found += positions(inner, (*path, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += positions(inner, (*path, index))
    return found


def replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    """Return a copy of `value` with the value at `path` replaced by `new`."""
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = replaced(copy[path[0]], path[1:], new)
    return copy


@st.composite
def hostile_args(draw: Callable[..., Any], args: dict[str, Any],
                 extra_text: list[str]) -> dict[str, Any]:
    """Return `args` broken in one way: a value replaced, an argument added or dropped.

    Half the replacements are plausible values (right shape, wrong meaning),
    half arbitrary JSON.
    """
    values = draw(st.sampled_from([json_values(extra_text), plausible_values(extra_text)]))
    how = draw(st.sampled_from(["replace", "replace", "replace", "replace", "add", "drop"]))
    if how == "add":
        return {**args, draw(st.text(max_size=12)): draw(values)}
    if how == "drop" and args:
        gone = draw(st.sampled_from(sorted(args)))
        return {k: v for k, v in args.items() if k != gone}
    path = draw(st.sampled_from(positions(args) or [()]))
    broken = replaced(args, path, draw(values))
    return broken if isinstance(broken, dict) else {"args": broken}


def signed_wire(chain_id: str, contract: str, action: str, args: Mapping[str, Any],
                signers: list[Org], now: Any) -> dict[str, Any]:
    """Return the wire envelope of this transaction, signed by every one of `signers`.

    Where the arguments have no canonical form (a float, a number beyond
    2**53), the body is plain JSON, signed all the same: the node must
    refuse it for its encoding, never fail on it.
    """
    body = TxBody(chain_id=chain_id, contract=contract, action=action, args=dict(args),
                  signers=tuple(o.uscc for o in signers), nonce=secrets.token_hex(16),
                  not_before=format_timestamp(now - timedelta(hours=1)),
                  not_after=format_timestamp(now + timedelta(days=1)))
    try:
        data = canonical_bytes(body.to_json())
    except EncodingError:
        data = json.dumps(body.to_json(), ensure_ascii=False, sort_keys=True,
                          separators=(",", ":")).encode("utf-8", "surrogatepass")
    signatures = [Signature(o.uscc, o.key.sign(Domain.TRANSACTION, data)) for o in signers]
    return {"body": data.decode("utf-8", "surrogatepass"),
            "signatures": [s.to_json() for s in signatures]}


Template = tuple[list[str], dict[str, Any]]  # the signers' names, and the arguments


def templates(ids: Mapping[str, str], uscc: Callable[[str], str], today: str,
              members: list[Any]) -> dict[tuple[str, str], Template]:
    """Return a valid transaction for every action of every contract, in the hostile story.

    `ids`: line (b1's credit line to core), pending (a credential to s1 not
    yet accepted), root (s1's accepted credential), s1_note and s2_note (s1
    paid s2 from it), financing (s2 asked b1, who offered terms_hash) and
    proposal (an open governance proposal by core).
    """
    invoice = {"seller": uscc("s1"), "number": f"INV-H-{secrets.token_hex(4)}",
               "amount": 1_000_000, "allocated": 1_000_000}
    trade = {"contract_no": "PO-H", "invoices": [invoice],
             "documents": [{"name": "contract.pdf", "sha256": "ab" * 32}]}
    offer = {"financing": ids["financing"], "annual_rate_percent": "2.00",
             "funding_date": today, "fees": 0, "fee_payer": "seller", "recourse": True,
             "registry_no": "ZD-1", "tenor_reviewed": False}
    change = {"kind": "set_policy", "name": "grace_days", "value": 3, "from_height": 10**6}
    r = "receivable"
    table: dict[tuple[str, str], Template] = {
        (r, "grant_credit_line"): (["b1", "core"], {
            "bank": uscc("b1"), "core": uscc("core"), "limit": 10**8, "currency": "CNY",
            "expiry_date": "2026-12-31"}),
        (r, "issue"): (["core"], {"credit_line": ids["line"], "to": uscc("s1"),
                                  "amount": 1_000_000, "currency": "CNY",
                                  "maturity_date": "2026-04-05", "trade": trade}),
        (r, "accept"): (["s1"], {"receivable": ids["pending"]}),
        (r, "reject"): (["s1"], {"receivable": ids["pending"]}),
        (r, "withdraw"): (["core"], {"receivable": ids["pending"]}),
        (r, "expire"): (["core"], {"receivable": ids["pending"]}),
        (r, "transfer"): (["s1"], {"note": ids["s1_note"],
                                   "payments": [{"to": uscc("s3"), "amount": 1_000_000}]}),
        (r, "freeze"): (["auditor"], {"note": ids["s1_note"], "reason": "court order"}),
        (r, "unfreeze"): (["auditor"], {"note": ids["s1_note"], "reason": "order lifted"}),
        (r, "request_financing"): (["s1"], {"note": ids["s1_note"], "bank": uscc("b1")}),
        (r, "offer_terms"): (["b1"], offer),
        (r, "accept_terms"): (["s2"], {"financing": ids["financing"],
                                       "terms_hash": ids["terms_hash"]}),
        (r, "cancel_financing"): (["s2"], {"financing": ids["financing"]}),
        (r, "confirm_disbursement"): (["b1"], {"financing": ids["financing"],
                                               "payment_ref": "BOC-1"}),
        (r, "pay"): (["core"], {"receivable": ids["root"], "amount": 1, "payment_ref": "P-1"}),
        (r, "mark_overdue"): (["core"], {"receivable": ids["root"]}),
        ("governance", "propose"): (["core"], {"change": change}),
        ("governance", "approve"): (["s1"], {"proposal": ids["proposal"]}),
        ("governance", "withdraw"): (["core"], {"proposal": ids["proposal"]}),
        ("registry", "genesis"): (["core"], {"members": members, "policies": {}}),
    }
    return table
