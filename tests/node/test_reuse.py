"""Reusing simulations at commit never changes a result.

A chain that commits batches after simulating them (reusing results where
their reads are unchanged, including reads of a sibling's write in the same
submission) must produce exactly the blocks a chain that executes everything
afresh produces: same header hashes, same state.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from contracts import CONTRACTS
from ledger.crypto import sha256_hex
from ledger.errors import rule_of
from ledger.execution import Executor, Overlay
from ledger.genesis import Genesis
from ledger.timefmt import format_timestamp
from node.ordering import OrderedBatch
from node.pipeline.chain import Chain, SignatureCache
from node.storage.store import Store
from tests.builders import START, build_tx, make_orgs
from tests.nodes import write_genesis

ORGS = make_orgs()
U = {name: org.uscc for name, org in ORGS.items()}


def _tx(signers: list[str], action: str, **args: Any) -> Any:
    return build_tx(ORGS, signers, "receivable", action, args, now=START)


def _derived(tx_id: str, kind: str = "note", index: int = 0) -> str:
    return sha256_hex(f"{kind}:{tx_id}:{index}".encode())


def _submissions() -> list[list[Any]]:
    line_tx = _tx(["b1", "core"], "grant_credit_line", bank=U["b1"], core=U["core"],
                  limit=10**12, currency="CNY", expiry_date="2026-12-31")
    line = _derived(line_tx.tx_id, "credit_line")
    lives: list[list[Any]] = []
    for n in range(6):  # each submission: issue, accept, split (each reads the previous write)
        trade = {"contract_no": f"PO-{n}", "documents": [], "invoices": [
            {"seller": U["s1"], "number": f"INV-{n}", "amount": 10**6, "allocated": 10**6}]}
        issue = _tx(["core"], "issue", credit_line=line, to=U["s1"], amount=10**6,
                    currency="CNY", maturity_date="2026-03-01", trade=trade)
        root = _derived(issue.tx_id)
        accept = _tx(["s1"], "accept", receivable=root)
        split = _tx(["s1"], "transfer", note=root,
                    payments=[{"to": U["s2"], "amount": 300_000}])
        lives.append([issue, accept, split])
    return [[line_tx], lives[0] + lives[1], lives[2], lives[3] + lives[4] + lives[5]]


def _batch(position: int, envelopes: list[Any]) -> OrderedBatch:
    return OrderedBatch(position, orjson.dumps({
        "chain_id": "test-chain", "proposer": "n1", "time": format_timestamp(START),
        "txs": [e.to_json() for e in envelopes]}))


def _chain(directory: Path) -> Chain:
    directory.mkdir()
    write_genesis(directory / "genesis.json", ORGS)
    genesis = Genesis.from_json(json.loads((directory / "genesis.json").read_text()))
    store = Store(f"sqlite:///{directory / 'n.db'}")
    return Chain(store, genesis, Executor(CONTRACTS, SignatureCache()))


def test_reused_simulations_give_the_blocks_fresh_execution_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    submissions = _submissions()
    simulated, fresh = _chain(tmp_path / "simulated"), _chain(tmp_path / "fresh")
    executed: list[str] = []
    original = simulated.executor._execute_one

    def counting(envelope: Any, *args: Any) -> Any:
        executed.append(envelope.tx_id)
        return original(envelope, *args)

    simulated.executor._execute_one = counting  # type: ignore[method-assign]
    for position, envelopes in enumerate(submissions, start=1):
        simulations = simulated.simulate(envelopes, format_timestamp(START))
        simulated.remember(envelopes, simulations)
        assert all(s.reads for s in simulations)
        committed = simulated.apply_batch(_batch(position, envelopes))
        assert all(c.valid for c in committed), [c.reason for c in committed]
        with monkeypatch.context() as plain:  # no decoded-record hints: decode every read
            plain.setattr(Overlay, "_set_hint", lambda self, key, hint: None)
            fresh.apply_batch(_batch(position, envelopes))
        assert simulated.head.hash() == fresh.head.hash()
    assert set(simulated.store.state_items()) == set(fresh.store.state_items())
    # the note index built from saved records equals the one parsed from bytes
    rows = [sorted(n.model_dump().items()) for n in simulated.store.notes_where(limit=10_000)]
    assert rows == [sorted(n.model_dump().items()) for n in fresh.store.notes_where(limit=10_000)]
    assert len(rows) >= 18
    # every transaction reused its simulation, even those that read a sibling's write
    assert executed == []
    assert not simulated.simulations


def test_a_stale_simulation_is_executed_again(tmp_path: Path) -> None:
    chain = _chain(tmp_path / "c")
    submissions = _submissions()
    [line_tx], first = submissions[0], submissions[1][:3]
    chain.apply_batch(_batch(1, [line_tx]))
    issue, accept, split = first
    chain.remember([issue], chain.simulate([issue], format_timestamp(START)))
    chain.apply_batch(_batch(2, [issue]))
    chain.remember([split], chain.simulate([accept, split], format_timestamp(START))[1:])
    # the split was simulated after an accept that is never ordered: at commit the
    # note is still pending, so the split must fail, not reuse its stale success
    [result] = chain.apply_batch(_batch(3, [split]))
    assert not result.valid and rule_of(result.reason) == "the note is not pending acceptance"


def test_a_simulation_reused_at_a_later_height_records_what_fresh_execution_does(
    tmp_path: Path,
) -> None:
    """An unrelated batch commits between a submission's simulation and its own block.

    The simulation stays reusable (nothing it read has changed), so what it
    wrote must not depend on the height it was simulated at: a record that
    noted the height would differ from a fresh execution's, and the nodes
    would disagree on the header.
    """
    submissions = _submissions()
    issue, accept, _ = submissions[1][:3]
    simulated, fresh = _chain(tmp_path / "simulated"), _chain(tmp_path / "fresh")
    executed: list[str] = []
    original = simulated.executor._execute_one

    def counting(envelope: Any, *args: Any) -> Any:
        executed.append(envelope.tx_id)
        return original(envelope, *args)

    simulated.executor._execute_one = counting  # type: ignore[method-assign]
    position, unrelated_ids = 0, []
    for envelopes in (submissions[0], [issue], [accept]):
        simulated.remember(envelopes, simulated.simulate(envelopes, format_timestamp(START)))
        unrelated = _tx(["b2", "core2"], "grant_credit_line", bank=U["b2"], core=U["core2"],
                        limit=10**9, currency="CNY", expiry_date="2026-12-31")
        unrelated_ids.append(unrelated.tx_id)
        for batch in ([unrelated], envelopes):
            position += 1
            for chain in (simulated, fresh):
                assert all(r.valid for r in chain.apply_batch(_batch(position, batch)))
            assert simulated.head.hash() == fresh.head.hash()
    assert executed == unrelated_ids  # the simulated ones were reused, a block later
    assert set(simulated.store.state_items()) == set(fresh.store.state_items())
