"""The core enterprise's co-signing page: what a bank signed is checked before anyone co-signs it.

A real node and the core enterprise's console as a process; the bank's half
is made with the SDK (`propose_credit_line`, as `ledger credit-line --out`
writes it) and given to the page as a person would, pasted or uploaded.
The page refuses, in words and with a 4xx (never a 5xx), what is not JSON,
not a prepared transaction, not a credit line, not to this organisation,
not signed by an active bank with its registered key, already on the
ledger or past its window; a form without its CSRF token and a viewer are
refused; a good one goes through the core's maker and checker and commits.
The bank's side is driven in the browser by test_lifecycle_e2e.py.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.client.console.support import Browserless, Running, org_console_settings, running_console
from tests.nodes import RunningNode, running_node

COSIGN = "/credit-lines/cosign"


@dataclass
class Desk:
    node: RunningNode
    console: Running


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    folder = tmp_path_factory.mktemp("cosign")
    (folder / "node").mkdir()
    with running_node(folder / "node", verifier_processes=0) as node, \
            running_console(org_console_settings(node, folder, "core")) as console:
        yield Desk(node, console)


def _proposal(node: RunningNode, bank: str = "b1", core: str = "core") -> dict[str, object]:
    """Return `bank`'s half-signed credit line for `core`, as the file's JSON."""
    signer = node.participant(bank)
    try:
        prepared = signer.propose_credit_line(core=node.orgs[core].uscc, limit=500_000_000,
                                              currency="CNY", expiry_date="2026-12-31")
    finally:
        signer.close()
    return prepared.envelope().to_json()


def _maker(desk: Desk, name: str = "mia") -> Browserless:
    person = Browserless(desk.console.url)
    person.log_in(name)
    return person


def _check(person: Browserless, text: str) -> httpx.Response:
    return person.post(COSIGN, {"prepared": text}, token_from=COSIGN)


def test_what_is_not_a_bank_s_credit_line_to_us_is_refused_in_words(desk: Desk) -> None:
    person = _maker(desk)
    good = _proposal(desk.node)
    forged = {**good, "signatures": [{"signer": desk.node.orgs["b1"].uscc,
                                      "sig": base64.b64encode(bytes(64)).decode()}]}
    other = desk.node.participant("s1")
    accept = other.prepare("receivable", "accept", {"receivable": "0" * 64}).envelope().to_json()
    other.close()
    cases = {
        "{not json": "That is not JSON text.",
        "[]": "That is not a prepared transaction: a transaction must be a JSON object",
        json.dumps(accept): "That is not a credit line (it is receivable.accept).",
        json.dumps(_proposal(desk.node, core="core2")): "not to us.",
        json.dumps(_proposal(desk.node, bank="s1")): "is not an active bank of the consortium.",
        json.dumps(forged): "It lacks a valid signature of",
        "x" * 20_000: "That is too long (over 16000 characters)",
        "": "Choose the file or paste the prepared transaction.",
    }
    for text, words in cases.items():
        answer = _check(person, text)
        assert answer.status_code == 400, (text[:40], answer.status_code)
        assert words in answer.text, (text[:40], answer.text[-3000:])
    tampered = person.post(f"{COSIGN}/prepare", {"prepared": json.dumps(forged)},
                           token_from=COSIGN)
    assert tampered.status_code == 400 and "It lacks a valid signature of" in tampered.text
    person.close()


def test_without_csrf_or_as_a_viewer_nothing_is_checked_or_prepared(desk: Desk) -> None:
    good = json.dumps(_proposal(desk.node))
    person = _maker(desk)
    assert person.http.post(COSIGN, data={"prepared": good}).status_code == 403
    assert person.http.post(f"{COSIGN}/prepare", data={"prepared": good}).status_code == 403
    assert person.http.get("/credit-lines").status_code == 403  # a bank's page
    viewer = _maker(desk, "vera")
    assert _check(viewer, good).status_code == 403
    person.close()
    viewer.close()


def test_an_uploaded_proposal_is_co_signed_by_maker_and_checker_once(desk: Desk) -> None:
    good = json.dumps(_proposal(desk.node))
    person = _maker(desk)
    upload = {"file": ("credit-line.json", good.encode(), "application/json")}
    shown = person.http.post(COSIGN, data={"csrf_token": person.token(COSIGN)}, files=upload)
    assert shown.status_code == 200, shown.text[-2000:]
    assert "grants us a credit line of 5,000,000.00 CNY, expiring 2026-12-31." in shown.text
    queued = person.post(f"{COSIGN}/prepare", {"prepared": good}, token_from=COSIGN)
    assert queued.status_code == 200 and "/approvals" in str(queued.url)
    approval = int(str(queued.url).rsplit("-", 1)[1])
    checker = _maker(desk, "chen")
    done = checker.post(f"/approvals/{approval}/approve", token_from="/approvals")
    assert "committed on the ledger" in done.text, done.text[-2000:]
    core = desk.node.participant("core")
    lines = [x for x in core.credit_lines() if x["limit"] == 500_000_000]
    core.close()
    assert len(lines) == 1 and lines[0]["bank"] == desk.node.orgs["b1"].uscc
    again = _check(person, good)
    assert again.status_code == 400 and "is already on the ledger" in again.text
    person.close()
    checker.close()


def test_a_proposal_past_its_window_is_refused(desk: Desk) -> None:
    good = json.dumps(_proposal(desk.node))
    desk.node.clock.advance(days=2)  # the bank's signature is valid for a day
    person = _maker(desk)
    answer = _check(person, good)
    assert answer.status_code == 400 and "ask the bank for a new one" in answer.text
    person.close()

