"""Bad input to a real node: every mistake is a 4xx naming the problem, and changes nothing.

One node serves the whole module (small body and batch limits so the limits
can be hit cheaply).  s1 holds an accepted credential; every refused request
is checked against a snapshot of the chain status, s1's notes and the store.
"""

from __future__ import annotations

import logging
import secrets
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from client.sdk.http import NodeError
from client.sdk.participant import Participant
from ledger.canonical import canonical_bytes
from ledger.crypto import PrivateKey
from ledger.membership import make_uscc
from ledger.timefmt import format_timestamp
from ledger.tx import Envelope
from tests.builders import Org, make_orgs
from tests.node.support import (
    FACE,
    LINE_EXPIRY,
    assert_unchanged,
    envelope,
    error_of,
    flip_bit,
    grant_line,
    issue_accepted,
    issue_args,
    outputs,
    raw,
    signed_headers,
    snapshot,
    submit_raw,
    tx_body,
    wait_committed,
    wire_text,
)
from tests.nodes import RunningNode, running_node

MAX_BYTES = 32 * 1024
MAX_TXS = 5
RANDOM_ID = "ab" * 32
STEP = 1_000_000  # what the valid transfers in this module pay s2


@dataclass
class World:
    """The module's node: a credit line and s1's accepted credential."""

    n: RunningNode
    line: str
    root: str
    people: dict[str, Participant]

    def org(self, name: str) -> Org:
        return self.n.orgs[name]

    def grant(self, limit: int = FACE, **changes: Any) -> Envelope:
        """Return a valid, independent transaction: b1 grants core another credit line."""
        args = {"bank": self.org("b1").uscc, "core": self.org("core").uscc, "limit": limit,
                "currency": "CNY", "expiry_date": LINE_EXPIRY}
        return envelope(self.n, ["b1", "core"], "receivable", "grant_credit_line", args,
                        **changes)

    def transfer(self, **changes: Any) -> dict[str, Any]:
        """Return the args of a valid transfer of s1's note to s2."""
        return {"note": self.root, "payments": [{"to": self.org("s2").uscc, "amount": STEP}],
                **changes}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("bad_input")
    with running_node(tmp, max_request_bytes=MAX_BYTES, max_batch_txs=MAX_TXS,
                      clock_controllers=make_orgs()["auditor"].uscc) as n:
        line = grant_line(n)
        root = issue_accepted(n, line)
        people = {name: n.participant(name) for name in n.orgs}
        yield World(n, line, root, people)
        for person in people.values():
            person.close()


@pytest.fixture
def refused(world: World) -> Iterator[Callable[..., tuple[str, str]]]:
    """Check a response is the given 4xx JSON error; after the test, that nothing changed."""
    before = snapshot(world.n, world.people["s1"])

    def check(response: Any, status: int, code: str | None = None,
              *fragments: str) -> tuple[str, str]:
        error, detail = error_of(response, status)
        if code is not None:
            assert error == code, (error, detail)
        for fragment in fragments:
            assert fragment in detail, (fragment, detail)
        return error, detail

    yield check
    assert_unchanged(world.n, world.people["s1"], before)


def submit(world: World, payload: Any, org: str = "s1") -> Any:
    return submit_raw(world.n, world.org(org), payload)


def wire(env: Envelope) -> dict[str, Any]:
    return env.to_json()


# -- the request itself ---------------------------------------------------------------


def test_malformed_json(world: World, refused: Any) -> None:
    refused(submit(world, b"{not json"), 400, "bad_encoding", "not valid JSON")


@pytest.mark.parametrize("payload, fragment", [
    ([], "send one envelope object"),
    (None, "send one envelope object"),
    ("an envelope", "send one envelope object"),
    ({"transactions": []}, "non-empty list"),
    ({"transactions": {"body": "x"}}, "non-empty list"),
    ({"transactions": [1]}, "must be a JSON object"),
    ({"body": "{}", "signatures": [], "extra": 1}, "unknown field(s): extra"),
    ({"signatures": []}, "missing field(s): body"),
], ids=["list", "null", "string", "empty-batch", "batch-not-list", "item-not-object",
        "extra-field", "no-body"])
def test_not_an_envelope(world: World, refused: Any, payload: Any, fragment: str) -> None:
    refused(submit(world, payload), 400, "bad_schema", fragment)


# -- wrong types ---------------------------------------------------------------------


def test_body_not_a_string(world: World, refused: Any) -> None:
    env = envelope(world.n, ["s1"], "receivable", "transfer", world.transfer())
    payload = {"body": env.body.to_json(), "signatures": wire(env)["signatures"]}
    refused(submit(world, payload), 400, "bad_schema", "'body' must be the canonical JSON text")


@pytest.mark.parametrize("signatures", [
    "not a list", {"signer": "x", "sig": "y"}, [],
], ids=["string", "object", "empty"])
def test_signatures_not_a_list(world: World, refused: Any, signatures: Any) -> None:
    env = envelope(world.n, ["s1"], "receivable", "transfer", world.transfer())
    payload = {"body": wire(env)["body"], "signatures": signatures}
    error, detail = refused(submit(world, payload), 400)
    assert error in ("bad_schema", "bad_signature")
    assert "signature" in detail


@pytest.mark.parametrize("entry, fragment", [
    ({"signer": "x"}, "'signer' and 'sig'"),
    ({"signer": 5, "sig": "AA=="}, "must be strings"),
    ("sig", "'signer' and 'sig'"),
], ids=["no-sig", "signer-int", "entry-string"])
def test_signature_entry_shape(world: World, refused: Any, entry: Any, fragment: str) -> None:
    env = envelope(world.n, ["s1"], "receivable", "transfer", world.transfer())
    payload = {"body": wire(env)["body"], "signatures": [entry]}
    refused(submit(world, payload), 400, "bad_schema", fragment)


def test_signature_not_base64(world: World, refused: Any) -> None:
    env = wire(envelope(world.n, ["s1"], "receivable", "transfer", world.transfer()))
    env["signatures"][0]["sig"] = "!!not base64!!"
    refused(submit(world, env), 400, "bad_signature", "not valid base64")


@pytest.mark.parametrize("value", ["50000000", "5e7", True, None, [FACE]],
                         ids=["string", "string-exp", "bool", "null", "list"])
def test_amount_of_wrong_type(world: World, refused: Any, value: Any) -> None:
    args = world.transfer(payments=[{"to": world.org("s2").uscc, "amount": value}])
    env = envelope(world.n, ["s1"], "receivable", "transfer", args)
    refused(submit(world, wire(env)), 400, "bad_schema", "payment amount must be an integer")


def test_issue_amount_as_string(world: World, refused: Any) -> None:
    args = {**issue_args(world.n, world.line), "amount": str(FACE)}
    env = envelope(world.n, ["core"], "receivable", "issue", args)
    refused(submit(world, wire(env), "core"), 400, "bad_schema",
            "amount must be an integer number of fen")


def test_amount_as_float(world: World, refused: Any) -> None:
    # Floats cannot even be signed by the SDK; the schema forbids them at the
    # encoding level, so the node answers bad_encoding (not bad_schema).
    args = world.transfer(payments=[{"to": world.org("s2").uscc, "amount": 12345}])
    text = canonical_bytes(tx_body(world.n, ["s1"], "receivable", "transfer", args).to_json())
    body_text = text.decode().replace('"amount":12345', '"amount":50000000.5')
    refused(submit(world, wire_text(world.n, body_text, ["s1"])), 400, "bad_encoding",
            "floats are not allowed")


def test_body_not_canonical(world: World, refused: Any) -> None:
    text = canonical_bytes(tx_body(world.n, ["s1"], "receivable", "transfer",
                                   world.transfer()).to_json()).decode()
    spaced = text.replace('","', '", "', 1)
    refused(submit(world, wire_text(world.n, spaced, ["s1"])), 400, "bad_encoding", "canonical")


def test_body_with_duplicate_keys(world: World, refused: Any) -> None:
    text = canonical_bytes(tx_body(world.n, ["s1"], "receivable", "transfer",
                                   world.transfer()).to_json()).decode()
    doubled = text.replace('{"action":"transfer",', '{"action":"transfer","action":"transfer",')
    refused(submit(world, wire_text(world.n, doubled, ["s1"])), 400, "bad_encoding",
            "duplicate keys")


@pytest.mark.parametrize("changes, fragment", [
    ({"nonce": "NOT-HEX-NONCE-123"}, "nonce must be 16 to 64 lower-case hex digits"),
    ({"not_after": "tomorrow"}, "not_after must be a UTC timestamp"),
    ({"signers": ()}, "signers must be a non-empty list"),
], ids=["nonce", "not_after", "no-signers"])
def test_body_field_of_wrong_shape(world: World, refused: Any, changes: dict[str, Any],
                                   fragment: str) -> None:
    body = tx_body(world.n, ["s1"], "receivable", "transfer", world.transfer())
    text = canonical_bytes({**body.to_json(), **{k: list(v) if isinstance(v, tuple) else v
                                                 for k, v in changes.items()}}).decode()
    refused(submit(world, wire_text(world.n, text, ["s1"])), 400, "bad_schema", fragment)


def test_missing_argument(world: World, refused: Any) -> None:
    env = envelope(world.n, ["s1"], "receivable", "transfer", {"note": world.root})
    refused(submit(world, wire(env)), 400, "bad_schema", "missing argument(s): payments")


def test_unknown_argument(world: World, refused: Any) -> None:
    env = envelope(world.n, ["s1"], "receivable", "transfer", world.transfer(memo="hi"))
    refused(submit(world, wire(env)), 400, "bad_schema", "unknown argument(s): memo")


# -- contracts, actions, signatures ---------------------------------------------------


def test_unknown_contract(world: World, refused: Any) -> None:
    env = envelope(world.n, ["s1"], "bitcoin", "transfer", world.transfer())
    refused(submit(world, wire(env)), 400, "unknown_contract", "unknown contract 'bitcoin'")


def test_unknown_action(world: World, refused: Any) -> None:
    env = envelope(world.n, ["s1"], "receivable", "steal", world.transfer())
    refused(submit(world, wire(env)), 400, "unknown_contract",
            "contract 'receivable' has no action 'steal'")


def test_forged_signature(world: World, refused: Any) -> None:
    env = wire(envelope(world.n, ["s1"], "receivable", "transfer", world.transfer()))
    env["signatures"][0]["sig"] = flip_bit(env["signatures"][0]["sig"])
    refused(submit(world, env), 400, "bad_signature",
            f"signature of {world.org('s1').uscc} does not verify")


def test_signed_by_the_wrong_key(world: World, refused: Any) -> None:
    env = envelope(world.n, ["s1"], "receivable", "transfer", world.transfer())
    forged = wire_text(world.n, env.body_bytes.decode(), ["s2"])
    forged["signatures"][0]["signer"] = world.org("s1").uscc
    refused(submit(world, forged), 400, "bad_signature", "does not verify")


def test_missing_signature(world: World, refused: Any) -> None:
    env = world.grant()
    only_bank = {**wire(env), "signatures": wire(env)["signatures"][:1]}
    refused(submit(world, only_bank, "b1"), 400, "bad_signature",
            f"missing signature of {world.org('core').uscc}")


def test_extra_signature(world: World, refused: Any) -> None:
    env = envelope(world.n, ["s1"], "receivable", "transfer", world.transfer(),
                   signed_by=["s1", "s2"])
    refused(submit(world, wire(env)), 400, "bad_signature",
            f"extra signature from {world.org('s2').uscc}, who is not a listed signer")


def test_signature_twice_by_one_signer(world: World, refused: Any) -> None:
    env = wire(envelope(world.n, ["s1"], "receivable", "transfer", world.transfer()))
    env["signatures"] = env["signatures"] * 2
    refused(submit(world, env), 400, "bad_signature", "signed more than once")


def test_signer_not_a_member(world: World, refused: Any) -> None:
    stranger = make_uscc("91310000MA9999999")
    body = tx_body(world.n, ["s1"], "receivable", "transfer", world.transfer(),
                   signers=(stranger,))
    text = canonical_bytes(body.to_json()).decode()
    env = wire_text(world.n, text, ["s1"])
    env["signatures"][0]["signer"] = stranger
    refused(submit(world, env), 400, "bad_signature", f"signer {stranger} is not a member")


def test_signer_not_party_to_the_action(world: World, refused: Any) -> None:
    env = envelope(world.n, ["s1", "s3"], "receivable", "transfer", world.transfer())
    refused(submit(world, wire(env)), 400, "bad_signature",
            f"{world.org('s3').uscc} is not")


# -- business rules -----------------------------------------------------------------------


def _supplier_grants_line(world: World) -> tuple[str, Envelope]:
    s1, core = world.people["s1"], world.people["core"]
    prep = core.cosign(s1.propose_credit_line(core=core.uscc, limit=FACE, currency="CNY",
                                              expiry_date=LINE_EXPIRY))
    return "s1", prep.envelope()


def _bank_issues(world: World) -> tuple[str, Envelope]:
    return "b1", envelope(world.n, ["b1"], "receivable", "issue",
                          issue_args(world.n, world.line))


def _supplier_pays_bank(world: World) -> tuple[str, Envelope]:
    args = world.transfer(payments=[{"to": world.org("b2").uscc, "amount": FACE // 2}])
    return "s1", envelope(world.n, ["s1"], "receivable", "transfer", args)


def _other_supplier_moves_note(world: World) -> tuple[str, Envelope]:
    args = world.transfer(payments=[{"to": world.org("s2").uscc, "amount": FACE}])
    return "s2", envelope(world.n, ["s2"], "receivable", "transfer", args)


def _issue_to_a_bank(world: World) -> tuple[str, Envelope]:
    return "core", envelope(world.n, ["core"], "receivable", "issue",
                            {**issue_args(world.n, world.line), "to": world.org("b2").uscc})


@pytest.mark.parametrize("build, rule", [
    (_supplier_grants_line, "the lender of a credit line has the bank role"),
    (_bank_issues, "the core enterprise of the credit line signs the issuance"),
    (_supplier_pays_bank, "each recipient is an active member with the supplier role"),
    (_other_supplier_moves_note, "the holder signs the transfer"),
    (_issue_to_a_bank, "the receiver is an active member with the supplier role"),
], ids=["supplier-grants-line", "bank-issues", "pay-a-bank", "not-the-holder", "issue-to-bank"])
def test_wrong_role_is_refused_with_the_rule(
    world: World, refused: Any, build: Callable[[World], tuple[str, Envelope]], rule: str,
) -> None:
    sender, env = build(world)
    refused(submit(world, wire(env), sender), 422, "contract_violation", rule)


def test_overspending_a_note(world: World, refused: Any) -> None:
    args = world.transfer(payments=[{"to": world.org("s2").uscc, "amount": FACE + 1}])
    env = envelope(world.n, ["s1"], "receivable", "transfer", args)
    refused(submit(world, wire(env)), 422, "contract_violation",
            "the payments do not exceed the note's amount")


def test_refusal_through_the_sdk_raises_node_error(world: World, refused: Any) -> None:
    with pytest.raises(NodeError) as info:
        world.people["s2"].transfer(world.root, [(world.org("s3").uscc, STEP)])
    assert info.value.status == 422
    assert info.value.code == "contract_violation"
    assert "the holder signs the transfer" in info.value.detail
    assert set(info.value.body) >= {"error", "detail"}


# -- replays, windows, chains ----------------------------------------------------------


def test_replayed_transaction(world: World) -> None:
    env = world.grant()
    assert world.people["b1"].submit([env])[0]["status"] == "committed"
    before = snapshot(world.n, world.people["s1"])
    again = submit(world, wire(env), "b1")
    error, detail = error_of(again, 409)
    assert error == "replay"
    assert f"transaction {env.tx_id} is already committed" in detail
    assert again.json()["tx_id"] == env.tx_id
    assert_unchanged(world.n, world.people["s1"], before)


def test_same_transaction_twice_in_one_batch(world: World, refused: Any) -> None:
    env = world.grant()
    r = submit(world, {"transactions": [wire(env), wire(env)]}, "b1")
    refused(r, 409, "replay", "appears twice in this submission")
    assert r.json()["index"] == 1


def test_reused_nonce(world: World) -> None:
    first = world.grant(limit=FACE + 1)
    world.people["b1"].submit([first])
    before = snapshot(world.n, world.people["s1"])
    reused = world.grant(limit=FACE + 2, nonce=first.body.nonce)
    assert reused.tx_id != first.tx_id
    error, detail = error_of(submit(world, wire(reused), "b1"), 409)
    assert error == "replay"
    assert f"nonce {first.body.nonce} was already used by" in detail
    assert world.org("b1").uscc in detail
    assert_unchanged(world.n, world.people["s1"], before)


def test_reused_nonce_within_one_batch(world: World, refused: Any) -> None:
    nonce = secrets.token_hex(16)
    one, two = world.grant(limit=FACE + 3, nonce=nonce), world.grant(limit=FACE + 4, nonce=nonce)
    r = submit(world, {"transactions": [wire(one), wire(two)]}, "b1")
    refused(r, 409, "replay", f"nonce {nonce} was already used")


def test_expired_validity_window(world: World, refused: Any) -> None:
    now = world.n.clock.now()
    env = world.grant(not_before=format_timestamp(now - timedelta(days=3)),
                      not_after=format_timestamp(now - timedelta(days=2)))
    refused(submit(world, wire(env), "b1"), 400, "outside_validity_window",
            f"the transaction expired at {env.body.not_after}")


def test_not_yet_valid(world: World, refused: Any) -> None:
    now = world.n.clock.now()
    env = world.grant(not_before=format_timestamp(now + timedelta(days=2)),
                      not_after=format_timestamp(now + timedelta(days=3)))
    refused(submit(world, wire(env), "b1"), 400, "outside_validity_window",
            f"not valid before {env.body.not_before}")


def test_wrong_chain_id(world: World, refused: Any) -> None:
    env = world.grant(chain_id="another-chain")
    refused(submit(world, wire(env), "b1"), 400, "bad_schema",
            "transaction is for chain 'another-chain'")


# -- sizes ---------------------------------------------------------------------------------


def test_oversized_body_with_content_length(world: World, refused: Any) -> None:
    padding = "x" * MAX_BYTES
    body = orjson.dumps({"body": padding, "signatures": []})
    refused(raw(world.n, world.org("s1"), "POST", "/v1/transactions", body), 413,
            "payload_too_large", f"exceeds {MAX_BYTES} bytes")


def test_oversized_body_streamed(world: World, refused: Any) -> None:
    body = orjson.dumps({"body": "x" * (2 * MAX_BYTES), "signatures": []})
    headers = signed_headers(world.n, world.org("s1"), "POST", "/v1/transactions", body)

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 4096):
            yield body[start:start + 4096]

    response = httpx.post(world.n.url + "/v1/transactions", content=chunks(), headers=headers)
    assert "content-length" not in {k.lower() for k in response.request.headers}
    refused(response, 413, "payload_too_large")


def test_too_many_transactions_in_a_batch(world: World, refused: Any) -> None:
    envs = [wire(world.grant(limit=FACE + 10 + i)) for i in range(MAX_TXS + 1)]
    refused(submit(world, {"transactions": envs}, "b1"), 413, "payload_too_large",
            f"at most {MAX_TXS} transactions per request")


def test_a_full_batch_is_accepted(world: World) -> None:
    envs = [world.grant(limit=FACE + 20 + i) for i in range(MAX_TXS)]
    results = world.people["b1"].submit(envs)
    assert [r["status"] for r in results] == ["committed"] * MAX_TXS


# -- all or nothing ----------------------------------------------------------------------


def _malformed(world: World) -> Any:
    return {"body": "{", "signatures": []}


def _forged(world: World) -> Any:
    env = wire(world.grant(limit=FACE + 31))
    env["signatures"][1]["sig"] = flip_bit(env["signatures"][1]["sig"])
    return env


def _violation(world: World) -> Any:
    args = world.transfer(payments=[{"to": world.org("s2").uscc, "amount": FACE + 1}])
    return wire(envelope(world.n, ["s1"], "receivable", "transfer", args))


def _expired(world: World) -> Any:
    now = world.n.clock.now()
    return wire(world.grant(not_before=format_timestamp(now - timedelta(days=3)),
                            not_after=format_timestamp(now - timedelta(days=2))))


def _duplicate_of_first(world: World) -> Any:
    return "first"


@pytest.mark.parametrize("bad, status", [
    (_malformed, 400), (_forged, 400), (_violation, 422), (_expired, 400),
    (_duplicate_of_first, 409),
], ids=["malformed", "forged", "contract-violation", "expired", "duplicate"])
def test_batch_with_bad_second_is_refused_whole(
    world: World, bad: Callable[[World], Any], status: int,
) -> None:
    first = world.grant(limit=FACE + 40)
    third = envelope(world.n, ["s1"], "receivable", "transfer", world.transfer())
    middle = bad(world)
    middle = wire(first) if middle == "first" else middle
    before = snapshot(world.n, world.people["s1"])
    r = submit(world, {"transactions": [wire(first), middle, wire(third)]}, "b1")
    error_of(r, status)
    assert r.json()["index"] == 1
    assert r.json()["detail"].startswith("transaction 1:")
    assert_unchanged(world.n, world.people["s1"], before)
    for env in (first, third):
        assert world.n.service.tx_status(env.tx_id) is None
        unknown = raw(world.n, world.org("auditor"), "GET", f"/v1/transactions/{env.tx_id}")
        error_of(unknown, 404)
    # The other two were fine: without the bad one, the batch goes through.
    results = world.people["b1"].submit([first, third], check=False)
    assert [r["status"] for r in results] == ["committed", "committed"]
    world.root = next(o["note"] for o in world.people["s1"].transaction(third.tx_id)["events"][0]
                      ["outputs"] if o["holder"] == world.org("s1").uscc)


# -- unknown ids -------------------------------------------------------------------------


@pytest.mark.parametrize("path", [
    f"/v1/notes/{RANDOM_ID}",
    f"/v1/notes/{RANDOM_ID}/lineage",
    f"/v1/transactions/{RANDOM_ID}",
    "/v1/blocks/999999",
    f"/v1/receivables/{RANDOM_ID}",
    f"/v1/records/credit_line/{RANDOM_ID}",
    f"/v1/records/financing/{RANDOM_ID}",
    f"/v1/log/inclusion/{RANDOM_ID}",
    "/v1/log/leaf/999999",
    "/v1/log/checkpoint?height=999999",
    "/v1/no/such/route",
])
@pytest.mark.parametrize("who", ["s1", "auditor"])
def test_unknown_ids_are_404(world: World, refused: Any, path: str, who: str) -> None:
    refused(raw(world.n, world.org(who), "GET", path), 404, "not_found")


@pytest.mark.parametrize("path, fragment", [
    ("/v1/blocks/abc", "height"),
    ("/v1/blocks?limit=0", "limit"),
    ("/v1/events?after=-2", "after"),
    ("/v1/log/consistency", "first"),
    ("/v1/log/consistency?first=1&second=999999", "size must be between 1 and the log size"),
    ("/v1/log/checkpoint?height=-1", "height"),
    ("/v1/log/checkpoint?height=abc", "height"),
    ("/v1/log/checkpoint?height=1.5", "height"),
    ("/v1/log/checkpoint?height=99999999999999999999", "height"),
    ("/v1/records/spaceship/x", "path.kind: Input should be 'credit_line', 'financing'"),
])
def test_bad_query_is_400(world: World, refused: Any, path: str, fragment: str) -> None:
    refused(raw(world.n, world.org("s1"), "GET", path), 400, None, fragment)


def test_wrong_method_is_405(world: World, refused: Any) -> None:
    refused(raw(world.n, world.org("s1"), "DELETE", "/v1/status"), 405)


# -- authentication ------------------------------------------------------------------------


STRANGER_KEY = PrivateKey(bytes(range(32)))
STRANGER = make_uscc("91310000MA8888888")


def _headers_case(world: World, case: str, method: str, path: str,
                  body: bytes) -> dict[str, str]:
    n, s1 = world.n, world.org("s1")
    now = n.clock.now()
    skew = n.service.config.request_clock_skew_s
    cases: dict[str, Callable[[], dict[str, str]]] = {
        "no-headers": dict,
        "no-signature": lambda: {k: v for k, v in signed_headers(n, s1, method, path, body).items()
                                 if k != "X-Ledger-Signature"},
        "wrong-signature": lambda: signed_headers(n, s1, method, path, body,
                                                  key=world.org("s2").key),
        "signature-not-base64": lambda: {**signed_headers(n, s1, method, path, body),
                                         "X-Ledger-Signature": "%%%"},
        "unknown-member": lambda: signed_headers(n, s1, method, path, body, key=STRANGER_KEY,
                                                 uscc=STRANGER),
        "stale-time": lambda: signed_headers(
            n, s1, method, path, body, time=format_timestamp(now - timedelta(seconds=skew + 5))),
        "future-time": lambda: signed_headers(
            n, s1, method, path, body, time=format_timestamp(now + timedelta(seconds=skew + 5))),
        "bad-time": lambda: signed_headers(n, s1, method, path, body, time="yesterday"),
        "bad-nonce": lambda: signed_headers(n, s1, method, path, body, nonce="NOPE"),
        "other-chain": lambda: signed_headers(n, s1, method, path, body, chain_id="other"),
        "other-path": lambda: signed_headers(n, s1, method, "/v1/health", body),
        "other-method": lambda: signed_headers(n, s1, "PUT", path, body),
        "other-body": lambda: signed_headers(n, s1, method, path, body + b" "),
    }
    return cases[case]()


AUTH_CASES = ["no-headers", "no-signature", "wrong-signature", "signature-not-base64",
              "unknown-member", "stale-time", "future-time", "bad-time", "bad-nonce",
              "other-chain", "other-path", "other-method", "other-body"]


@pytest.mark.parametrize("case", AUTH_CASES)
def test_badly_authenticated_read_is_401(world: World, refused: Any, case: str) -> None:
    path = f"/v1/notes/{world.root}"
    headers = _headers_case(world, case, "GET", path, b"")
    refused(httpx.get(world.n.url + path, headers=headers), 401, "unauthenticated")


@pytest.mark.parametrize("case", AUTH_CASES)
def test_badly_authenticated_submission_is_401(world: World, refused: Any, case: str) -> None:
    body = orjson.dumps(wire(envelope(world.n, ["s1"], "receivable", "transfer",
                                      world.transfer())))
    headers = {**_headers_case(world, case, "POST", "/v1/transactions", body),
               "Content-Type": "application/json"}
    response = httpx.post(world.n.url + "/v1/transactions", content=body, headers=headers)
    refused(response, 401, "unauthenticated")


def test_replayed_request_nonce_is_401(world: World, refused: Any) -> None:
    path = f"/v1/notes/{world.root}"
    headers = signed_headers(world.n, world.org("s1"), "GET", path)
    assert httpx.get(world.n.url + path, headers=headers).status_code == 200
    _, detail = refused(httpx.get(world.n.url + path, headers=headers), 401, "unauthenticated")
    assert "replayed request" in detail


def test_replayed_submission_request_is_401_and_not_resubmitted(world: World) -> None:
    env = world.grant(limit=FACE + 50)
    body = orjson.dumps(wire(env))
    headers = {**signed_headers(world.n, world.org("b1"), "POST", "/v1/transactions", body),
               "Content-Type": "application/json"}
    assert httpx.post(world.n.url + "/v1/transactions", content=body,
                      headers=headers).status_code == 202
    wait_committed(world.n, env.tx_id)
    before = snapshot(world.n, world.people["s1"])
    error, _ = error_of(httpx.post(world.n.url + "/v1/transactions", content=body,
                                   headers=headers), 401)
    assert error == "unauthenticated"
    assert_unchanged(world.n, world.people["s1"], before)


def test_health_needs_no_signature(world: World) -> None:
    answer = httpx.get(world.n.url + "/v1/health")
    assert answer.status_code == 200
    assert answer.json() == {"ok": True, "chain_id": world.n.service.chain.chain_id,
                             "node_id": world.n.service.config.node_id, "clock": "manual",
                             "time": format_timestamp(world.n.clock.now())}


# -- bugs: unexpected exceptions (5xx) -------------------------------------------------------


@pytest.fixture
def quiet_server_errors(world: World) -> Iterator[None]:
    """Keep the server thread from formatting tracebacks of the known 500s.

    On Python 3.11, formatting a traceback parses source with `ast`, whose state is
    shared between threads; doing it in the server thread while pytest builds its
    report in the main thread can end in "SystemError: AST constructor recursion
    depth mismatch".  A last request to the node is a barrier: its event loop has
    finished with the earlier request by the time it answers.
    """
    loggers = [logging.getLogger(name) for name in ("uvicorn.error", "node.api.errors")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    yield
    httpx.get(world.n.url + "/v1/health")
    for logger, level in zip(loggers, levels, strict=True):
        logger.setLevel(level)

HUGE = 2**70


@pytest.mark.parametrize("path", [
    f"/v1/blocks/{HUGE}", f"/v1/blocks?from={HUGE}", f"/v1/events?after={HUGE}",
    f"/v1/log/leaf/{HUGE}",
])
@pytest.mark.usefixtures("quiet_server_errors")
def test_huge_integer_parameters_are_4xx(world: World, path: str) -> None:
    response = raw(world.n, world.org("auditor"), "GET", path)
    assert 400 <= response.status_code < 500, (response.status_code, response.text)


def _nested_issue_text(n: RunningNode, depth: int) -> str:
    body = tx_body(n, ["core"], "receivable", "issue", {"x": 0})
    text = canonical_bytes(body.to_json()).decode()
    return text.replace('{"x":0}', '{"x":' + "[" * depth + "]" * depth + "}")


@pytest.mark.parametrize("depth", [70, 600, 5000])
def test_deeply_nested_body_is_400(world: World, refused: Any, depth: int) -> None:
    # 600 used to pass the parser and then overflow the encoder's recursion (a 500).
    env = wire_text(world.n, _nested_issue_text(world.n, depth), ["core"])
    _, detail = refused(submit(world, env, "core"), 400, "bad_encoding")
    assert "nest" in detail or "recursion" in detail


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"seconds": 100000000000000000000}'],
                         ids=["not-json", "list", "huge-seconds"])
@pytest.mark.usefixtures("quiet_server_errors")
def test_bad_clock_advance_is_400(world: World, body: bytes) -> None:
    before = world.n.clock.now()
    response = raw(world.n, world.org("auditor"), "POST", "/v1/admin/clock", body)
    assert world.n.clock.now() == before
    error_of(response, 400)


def test_clock_advance_rejects_negative_days(world: World, refused: Any) -> None:
    body = orjson.dumps({"days": -1})
    refused(raw(world.n, world.org("auditor"), "POST", "/v1/admin/clock", body), 400,
            "bad_schema")


def test_a_poisoned_batch_does_not_halt_the_chain(tmp_path: Path) -> None:
    """An ordered batch holding an unparseable (too deeply nested) transaction: it is
    dropped, the rest of the batch commits, and the chain goes on."""
    with running_node(tmp_path) as n:
        good = envelope(n, ["b1", "core"], "receivable", "grant_credit_line", {
            "bank": n.orgs["b1"].uscc, "core": n.orgs["core"].uscc, "limit": FACE,
            "currency": "CNY", "expiry_date": LINE_EXPIRY})
        poison = wire_text(n, _nested_issue_text(n, 600), ["core"])
        batch = {"chain_id": n.service.chain.chain_id, "proposer": "evil",
                 "time": format_timestamp(n.clock.now()), "txs": [poison, good.to_json()]}
        n.service.orderer.append(orjson.dumps(batch))
        assert wait_committed(n, good.tx_id)["valid"] is True
        b1 = n.participant("b1")
        try:
            block = n.service.store.block_txs(n.service.chain.head.height)
            assert [row.id for row in block] == [good.tx_id]
            later = b1.submit([envelope(n, ["b1", "core"], "receivable", "grant_credit_line", {
                "bank": n.orgs["b1"].uscc, "core": n.orgs["core"].uscc, "limit": FACE + 1,
                "currency": "CNY", "expiry_date": LINE_EXPIRY})], timeout=5)
        finally:
            b1.close()
        assert later[0]["status"] == "committed"


def test_changes_are_visible_after_all(world: World) -> None:
    """Sanity: the module's node still accepts good transactions after all the abuse."""
    s1 = world.people["s1"]
    before = s1.status()["height"]
    status = s1.transfer(world.root, [(world.org("s2").uscc, FACE // 10)])
    assert status["status"] == "committed"
    world.root = outputs(status)[world.org("s1").uscc]
    assert s1.status()["height"] > before


def test_a_client_leaving_mid_body_is_no_bug(world: World,
                                             caplog: pytest.LogCaptureFixture) -> None:
    """A signed submission whose client hangs up before its body is complete.

    Starlette raises ClientDisconnect while the body is read; that is the
    client's doing, and the node logged it as "unhandled error (a bug)".
    """
    body = orjson.dumps({"transactions": [world.grant().to_json()]})
    headers = signed_headers(world.n, world.org("b1"), "POST", "/v1/transactions", body)
    host, port = world.n.url.removeprefix("http://").split(":")
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    with caplog.at_level(logging.INFO, logger="node.api.errors"), \
            socket.create_connection((host, int(port))) as sock:
        sock.sendall((f"POST /v1/transactions HTTP/1.1\r\nHost: {host}\r\n{head}"
                      f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                      ).encode() + body[: len(body) // 2])
        time.sleep(0.2)
    httpx.get(world.n.url + "/v1/health")  # a barrier: the node is done with that request
    time.sleep(0.2)
    assert not [r for r in caplog.records if "a bug" in r.getMessage()]
    assert not world.n.service.mempool.pending
