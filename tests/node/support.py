"""Helpers for the node tests: a deal built over HTTP, raw signed requests, snapshots.

Everything here talks to a real node served by `tests.nodes.running_node`.
`raw` sends arbitrary bytes with (optionally doctored) request signatures, so
tests can send what the SDK never would; `snapshot` captures everything a
request could change, so a refused request can be shown to have changed nothing.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import orjson

from client.sdk.participant import Participant
from ledger.canonical import canonical_bytes
from ledger.crypto import Domain, PrivateKey, b64decode, b64encode
from ledger.request_auth import RequestToSign, sign_request
from ledger.timefmt import format_timestamp
from ledger.tx import Envelope, Signature, TxBody
from tests.builders import Org
from tests.nodes import RunningNode

FACE = 100_000_000  # 1,000,000.00 CNY in fen
LIMIT = 50 * FACE
MATURITY = "2026-04-05"  # 90 days after the node clock's start, 2026-01-05
LINE_EXPIRY = "2026-12-31"
_INVOICES = itertools.count(1)


def grant_line(n: RunningNode, bank: str = "b1", core: str = "core", limit: int = LIMIT) -> str:
    """Have `bank` grant `core` a CNY credit line (both sign); return its id."""
    b, c = n.participant(bank), n.participant(core)
    try:
        prep = c.cosign(b.propose_credit_line(core=c.uscc, limit=limit, currency="CNY",
                                              expiry_date=LINE_EXPIRY))
        status = b.submit([prep.envelope()])[0]
        return str(b.transaction(status["tx_id"])["events"][0]["credit_line"])
    finally:
        b.close()
        c.close()


def issue_args(n: RunningNode, line: str, to: str = "s1", amount: int = FACE) -> dict[str, Any]:
    """Return valid `issue` arguments for a credential to `to` with a fresh invoice."""
    seller = n.orgs[to].uscc
    invoice = {"seller": seller, "number": f"INV-{next(_INVOICES)}", "amount": amount,
               "allocated": amount}
    return {"credit_line": line, "to": seller, "amount": amount, "currency": "CNY",
            "maturity_date": MATURITY,
            "trade": {"contract_no": "PO-1", "invoices": [invoice], "documents": []}}


def issue_accepted(n: RunningNode, line: str, to: str = "s1", amount: int = FACE,
                   core: str = "core") -> str:
    """Issue a credential from `core` to `to` and have it accepted; return the root note id."""
    issuer, receiver = n.participant(core), n.participant(to)
    try:
        args = issue_args(n, line, to, amount)
        status = issuer.act("issue", **args)
        root = str(status["events"][0]["receivable"])
        receiver.accept(root)
        return root
    finally:
        issuer.close()
        receiver.close()


def outputs(status: Mapping[str, Any]) -> dict[str, str]:
    """Return {holder uscc: new note id} from a committed transfer's status."""
    return {o["holder"]: o["note"] for o in status["events"][0]["outputs"]}


# -- raw requests ---------------------------------------------------------------


def signed_headers(
    n: RunningNode, org: Org, method: str, path: str, body: bytes = b"", *,
    time: str | None = None, nonce: str | None = None, chain_id: str | None = None,
    key: PrivateKey | None = None, uscc: str | None = None, node: str | None = None,
) -> dict[str, str]:
    """Return request-auth headers for `org` (any part may be overridden to forge them)."""
    request = RequestToSign(
        chain_id or n.service.chain.chain_id, node or n.service.config.node_id, method, path,
        time or format_timestamp(n.clock.now()), nonce or secrets.token_hex(16), body,
    )
    return sign_request(request, uscc or org.uscc, key or org.key)


def raw(
    n: RunningNode, org: Org | None, method: str, path: str, body: bytes = b"",
    **overrides: Any,
) -> httpx.Response:
    """Send `body` to `path` signed by `org` (unsigned if org is None)."""
    headers = {} if org is None else signed_headers(n, org, method, path, body, **overrides)
    headers["Content-Type"] = "application/json"
    return httpx.request(method, n.url + path, content=body, headers=headers, timeout=30)


def submit_raw(n: RunningNode, org: Org, payload: Any) -> httpx.Response:
    """POST `payload` (JSON value, or bytes as they are) to /v1/transactions, signed by `org`."""
    body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    return raw(n, org, "POST", "/v1/transactions", body)


def error_of(response: httpx.Response, status: int) -> tuple[str, str]:
    """Assert `response` is the JSON error {error, detail} with `status`; return both."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    answer = response.json()
    assert isinstance(answer, dict), answer
    assert isinstance(answer.get("error"), str) and answer["error"], answer
    assert isinstance(answer.get("detail"), str) and answer["detail"], answer
    return answer["error"], answer["detail"]


# -- transactions built by hand -------------------------------------------------------


def tx_body(
    n: RunningNode, names: Sequence[str], contract: str, action: str, args: Mapping[str, Any],
    **changes: Any,
) -> TxBody:
    """Return a body signed by the named orgs, valid for a day from the node's clock."""
    now = n.clock.now()
    fields: dict[str, Any] = {
        "chain_id": n.service.chain.chain_id, "contract": contract, "action": action,
        "args": dict(args), "signers": tuple(n.orgs[s].uscc for s in names),
        "nonce": secrets.token_hex(16), "not_before": format_timestamp(now - timedelta(hours=1)),
        "not_after": format_timestamp(now + timedelta(days=1)),
    }
    fields.update(changes)
    return TxBody(**fields)


def sign_bytes(n: RunningNode, body_bytes: bytes, signed_by: Sequence[str]) -> list[Signature]:
    """Return the signatures of the named orgs over `body_bytes`."""
    return [Signature(n.orgs[s].uscc, n.orgs[s].key.sign(Domain.TRANSACTION, body_bytes))
            for s in signed_by]


def envelope(
    n: RunningNode, names: Sequence[str], contract: str, action: str,
    args: Mapping[str, Any], *, signed_by: Sequence[str] | None = None, **changes: Any,
) -> Envelope:
    """Build an envelope signed by the named orgs (or only by those in `signed_by`)."""
    body = tx_body(n, names, contract, action, args, **changes)
    body_bytes = canonical_bytes(body.to_json())
    who = list(names) if signed_by is None else list(signed_by)
    return Envelope(body_bytes, body, tuple(sign_bytes(n, body_bytes, who)))


def wire_text(n: RunningNode, body_text: str, signed_by: Sequence[str]) -> dict[str, Any]:
    """Return a wire envelope for arbitrary body text, signed by the named orgs."""
    data = body_text.encode("utf-8")
    return {"body": body_text, "signatures": [s.to_json() for s in sign_bytes(n, data, signed_by)]}


def flip_bit(signature_b64: str) -> str:
    """Return the base64 signature with one bit flipped."""
    raw_sig = bytearray(b64decode(signature_b64, what="signature"))
    raw_sig[7] ^= 0x01
    return b64encode(bytes(raw_sig))


# -- "changed nothing" -------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """Everything a submission could change, as the API and the store show it."""

    status: tuple[int, int, str, int]
    holdings: tuple[tuple[str, str, int], ...]
    state: dict[str, tuple[Any, ...]]
    notes: tuple[tuple[str, str, str, int], ...]
    txs: tuple[str, ...]


def stored_state(n: RunningNode) -> dict[str, tuple[Any, ...]]:
    """Return the world state as stored: key -> (value bytes, and whatever else is kept)."""
    return {item[0]: tuple(item[1:]) for item in n.service.store.state_items()}


def snapshot(n: RunningNode, holder: Participant) -> Snapshot:
    """Capture chain status, `holder`'s notes (API) and the store (state, note index, log)."""
    st = holder.status()
    store = n.service.store
    rows = store.notes_where(limit=100_000)
    head = st["height"]
    return Snapshot(
        status=(head, st["log_size"], st["head_hash"], st["pending"]),
        holdings=tuple(sorted((x["id"], x["status"], x["amount"])
                              for x in holder.holdings(status=None))),
        state=stored_state(n),
        notes=tuple(sorted((r.id, r.holder, r.status, r.amount) for r in rows)),
        txs=tuple(r.id for r in store.txs_range(0, head)),
    )


def assert_unchanged(n: RunningNode, holder: Participant, before: Snapshot) -> None:
    """Assert nothing was accepted since `before`: nothing pending, nothing committed."""
    assert not n.service.mempool.pending, "a refused submission left something pending"
    after = snapshot(n, holder)
    assert after.status == before.status
    assert after.holdings == before.holdings
    assert after.notes == before.notes
    assert after.txs == before.txs
    assert after.state == before.state


def wait_committed(n: RunningNode, tx_id: str, timeout: float = 10.0) -> dict[str, Any]:
    """Poll the node until `tx_id` is in a block; return its status."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = n.service.tx_status(tx_id)
        if status is not None and status["status"] != "pending":
            return status
        time.sleep(0.01)
    raise AssertionError(f"transaction {tx_id} did not commit within {timeout} s")
