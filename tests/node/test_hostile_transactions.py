"""Hostile transactions against real nodes: never a 5xx, never a change, never a disagreement.

Two nodes of one chain share one ordering log: `a` keeps its chain in
SQLite, `b` in PostgreSQL.  Each example takes a valid transaction of some
action of some contract (tests/node/hostile.py), breaks one position of its
arguments with arbitrary JSON, signs it as a plausible signer and submits it
to `a` over HTTP, waiting for the commit:
- the answer is never a 5xx;
- a refusal is a 4xx naming the problem, `b` refuses it with the same
  answer, and neither node changed anything;
- refused transactions are then forced into a block anyway (a batch put
  straight into the ordering log): both nodes record each of them invalid
  with the same code and reason (which is the reason the submission gave,
  when nothing was committed in between), or both drop it (no canonical
  body), and never as an internal error;
- at the end both nodes hold the same chain, and the independent audit
  re-derives every block of it from the signed batches and passes.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from client.audit import audit_nodes
from ledger.timefmt import format_timestamp
from node.ordering.embedded import EmbeddedOrderer
from tests.builders import make_orgs
from tests.node.hostile import EVERY_ACTION, hostile_args, signed_wire, templates
from tests.node.support import grant_line, issue_accepted, issue_args, signed_headers
from tests.nodes import RunningNode, running_node
from tests.pg import new_database

pytestmark = [pytest.mark.postgres, pytest.mark.slow]  # two nodes, ~45 s

EXAMPLES = 2_100  # the issue asks for at least 2,000 transactions per CI run
FLUSH_EVERY = 40  # refused transactions forced into one block
SUBMIT = "/v1/transactions?wait=true&timeout=20"


@dataclass
class Attempt:
    """One hostile transaction and how the submission answered it."""

    wire: dict[str, Any]
    tx_id: str | None  # None when its body does not parse at all
    status: int
    answer: dict[str, Any]


@dataclass
class Arena:
    """The two nodes, the shared log, the story's ids and what has been tried."""

    a: RunningNode
    b: RunningNode
    orderer: EmbeddedOrderer
    ids: dict[str, str]
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=60))
    refused: list[Attempt] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        """Short: Hypothesis prints the arena with a failing example, and its whole state
        (keys, refused wires) once hid the failure itself past the end of CI's output."""
        return f"Arena(head={self.a.service.chain.head.height}, counts={dict(self.counts)})"

    def templates(self) -> dict[tuple[str, str], tuple[list[str], dict[str, Any]]]:
        members = [o.member().to_json() for o in self.a.orgs.values()]
        return templates(self.ids, lambda n: self.a.orgs[n].uscc, "2026-01-05", members)


def _story(n: RunningNode) -> dict[str, str]:
    """Build the hostile story (tests/node/hostile.py `templates`) over HTTP on node `n`."""
    people = {name: n.participant(name) for name in ("core", "s1", "s2", "b1")}
    try:
        ids = {"line": grant_line(n)}
        ids["pending"] = people["core"].act("issue", **issue_args(n, ids["line"]))[
            "events"][0]["receivable"]
        ids["root"] = issue_accepted(n, ids["line"])
        moved = people["s1"].transfer(ids["root"], [(n.orgs["s2"].uscc, 30_000_000)])
        outputs = {o["holder"]: o["note"] for o in moved["events"][0]["outputs"]}
        ids["s2_note"], ids["s1_note"] = outputs[n.orgs["s2"].uscc], outputs[n.orgs["s1"].uscc]
        asked = people["s2"].request_financing(ids["s2_note"], n.orgs["b1"].uscc)
        ids["financing"] = asked["events"][0]["financing"]
        offered = people["b1"].offer_terms(ids["financing"], annual_rate_percent="2.00",
                                           funding_date="2026-01-05", recourse=True)
        ids["terms_hash"] = offered["events"][0]["terms_hash"]
        ids["proposal"] = people["core"].act("propose", contract="governance", change={
            "kind": "set_policy", "name": "grace_days", "value": 5, "from_height": 10**6,
        })["tx_id"]
        return ids
    finally:
        for person in people.values():
            person.close()


@pytest.fixture(scope="module")
def arena(tmp_path_factory: pytest.TempPathFactory, postgres_url: str) -> Iterator[Arena]:
    """Node a (SQLite) and node b (PostgreSQL) on one shared ordering log, and the story."""
    root = tmp_path_factory.mktemp("hostile")
    (root / "a").mkdir()
    (root / "b").mkdir()
    orderer = EmbeddedOrderer(root / "orderer.db")
    common = {"orderer": orderer, "verifier_processes": 0,
              "policies": {"freeze_authorities": [make_orgs()["auditor"].uscc]}}
    with running_node(root / "a", node_id="node-a", **common) as a, \
            running_node(root / "b", node_id="node-b", **common,
                         database_url=new_database(postgres_url, "hostile")) as b:
        ids = _story(a)
        _level(a, b, orderer)
        arena = Arena(a, b, orderer, ids)
        yield arena
        arena.http.close()
    orderer.close()




def _level(a: RunningNode, b: RunningNode, orderer: EmbeddedOrderer) -> None:
    """Wait until both nodes have applied everything in the log."""
    deadline = time.monotonic() + 30
    while min(a.service.chain.head.position, b.service.chain.head.position) < (
            orderer.last_position):
        assert time.monotonic() < deadline, "the nodes did not catch up with the log"
        time.sleep(0.005)


def _hostile(data: Any, arena: Arena) -> tuple[str, str, list[str], dict[str, Any]]:
    """Draw one hostile transaction (a plain function: the arena is no strategy argument, whose
    repr Hypothesis would build for every example)."""
    draw = data.draw
    table = arena.templates()
    contract, action = draw(st.sampled_from(sorted(table)))
    signers, args = table[(contract, action)]
    if draw(st.integers(0, 9)) == 0:
        signers = [draw(st.sampled_from(sorted(arena.a.orgs)))]
    known = [*arena.ids.values(), *(o.uscc for o in arena.a.orgs.values())]
    return contract, action, signers, draw(hostile_args(args, known))


def _submit(arena: Arena, node: RunningNode, wire: dict[str, Any],
            caller: str) -> tuple[int, dict[str, Any]]:
    body = orjson.dumps({"transactions": [wire]})
    headers = signed_headers(node, node.orgs[caller], "POST", SUBMIT, body)
    headers["Content-Type"] = "application/json"
    response = arena.http.post(node.url + SUBMIT, content=body, headers=headers)
    try:
        answer = response.json()
    except ValueError:
        answer = {"unparsed": response.text[:200]}
    return response.status_code, answer


def _tried(arena: Arena, case: tuple[str, str, list[str], dict[str, Any]]) -> None:
    """Submit one hostile transaction to a (and b if refused); check and remember the answers."""
    contract, action, signers, args = case
    a, b = arena.a, arena.b
    wire = signed_wire(a.service.chain.chain_id, contract, action, args,
                       [a.orgs[s] for s in signers], a.clock.now())
    before = (a.service.chain.head.hash(), len(a.service.mempool.pending))
    status, answer = _submit(arena, a, wire, signers[0])
    arena.counts[f"{status}"] += 1
    assert status < 500, (contract, action, args, answer)
    if status < 300:
        arena.counts["accepted"] += 1
        # b learns of the block from the log a moment later: until it has, it may answer the
        # next transaction from the state before this one
        _level(a, b, arena.orderer)
        _flush(arena, strict=False)  # what was refused before saw the state before this one
        return
    assert {"error", "detail"} <= set(answer), answer
    assert (a.service.chain.head.hash(), len(a.service.mempool.pending)) == before
    other = _submit(arena, b, wire, signers[0])
    assert other == (status, answer), ("the two backends answered differently", other, answer)
    arena.refused.append(Attempt(wire, answer.get("tx_id"), status, answer))
    arena.counts[f"refused: {answer['error']}"] += 1
    if len(arena.refused) >= FLUSH_EVERY:
        _flush(arena, strict=True)


def _flush(arena: Arena, *, strict: bool) -> None:
    """Force the refused transactions into one block; both nodes must record them alike."""
    attempts, arena.refused = arena.refused, []
    if not attempts:
        return
    a, b = arena.a, arena.b
    arena.orderer.append(orjson.dumps({
        "chain_id": a.service.chain.chain_id, "proposer": "hostile-test",
        "time": format_timestamp(a.clock.now()), "txs": [t.wire for t in attempts]}))
    _level(a, b, arena.orderer)
    assert a.service.chain.head.hash() == b.service.chain.head.hash(), "the nodes disagree"
    for attempt in attempts:
        problem = _recorded_problem(arena, attempt, strict)
        if problem is not None:
            arena.problems.append(f"{problem}: {str(attempt.wire.get('body'))[:400]} "
                                  f"answered {attempt.answer}")


def _recorded_problem(arena: Arena, attempt: Attempt, strict: bool) -> str | None:
    """How both nodes recorded a forced transaction, checked; the problem, or None.

    Collected, not asserted: the block holds the refusals of up to FLUSH_EVERY
    earlier examples, so Hypothesis would pin a failure here on whichever
    example happened to fill it, and call it flaky when that one alone passes.
    """
    rows = [n.service.store.tx(attempt.tx_id) if attempt.tx_id else None
            for n in (arena.a, arena.b)]
    seen = [None if r is None else (r.valid, r.code, r.reason) for r in rows]
    if seen[0] != seen[1]:
        return f"the backends recorded it differently {seen}"
    if seen[0] is None:
        arena.counts["dropped at parse"] += 1  # no canonical body: never in any block
        return None
    valid, code, reason = seen[0]
    arena.counts["recorded invalid"] += 1
    if code == "internal_error":
        return f"recorded as an internal error ({reason})"
    if strict and valid:
        return "refused at submission but valid in a block"
    if strict and (attempt.answer["error"], attempt.answer["detail"]) != (
            code, f"transaction 0: {reason}"):
        return f"the block gives another reason than submission ({code}: {reason})"
    return None


@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_hostile_transactions_are_refused_alike_and_recorded_alike(arena: Arena,
                                                                    data: Any) -> None:
    _tried(arena, _hostile(data, arena))


def test_afterwards_both_nodes_hold_one_chain_that_audits_clean(arena: Arena) -> None:
    if not arena.counts:
        pytest.skip("runs after the property test, on the chain it left")
    _flush(arena, strict=True)
    assert not arena.problems, "\n".join(arena.problems[:20])
    tried = sum(v for k, v in arena.counts.items() if k.isdigit())
    assert tried >= 2_000, arena.counts
    assert arena.counts["recorded invalid"] > 1_000, arena.counts
    a, b = arena.a, arena.b
    assert a.service.chain.head.hash() == b.service.chain.head.hash()
    auditors = [n.participant("auditor") for n in (a, b)]
    try:
        report = audit_nodes([p.node for p in auditors])
    finally:
        for person in auditors:
            person.close()
    assert report.passed, report.findings[:5]
    print(f"\nhostile transactions: {dict(arena.counts)}; audited {report.log_size} entries")


def test_every_action_is_in_the_story(arena: Arena) -> None:
    assert set(arena.templates()) == EVERY_ACTION
