"""ledger.derivation: the rules that make an ordered batch the next block, shared by node and audit.

Each rule is checked here on its own; that the node and the audit derive the
same blocks through them is checked by every audit test (a node's chain,
re-derived, must give the same header hashes).
"""

from __future__ import annotations

import orjson

from ledger.block import BlockHeader, TxResult
from ledger.derivation import candidate, fresh, parties_of
from ledger.tx import Envelope
from tests.ledger.txkit import ALICE, BOB, CAROL, signed

HEAD = BlockHeader(chain_id="unit-chain", height=7, prev_hash="00" * 32, position=7,
                   proposer="node1", time="2026-01-10T00:00:00Z", tx_count=0, tx_root="00" * 32,
                   result_root="00" * 32, log_size=9)


def _txs(count: int) -> list[Envelope]:
    return [signed(nonce=f"{n:016x}") for n in range(1, count + 1)]


def _batch(envelopes: list[Envelope], time: str = "2026-01-10T00:00:05Z",
           chain_id: str = "unit-chain") -> bytes:
    return orjson.dumps({"chain_id": chain_id, "proposer": "node1", "time": time,
                         "txs": [e.to_json() for e in envelopes]})


def test_fresh_drops_what_the_log_holds_and_repeats_keeping_the_order() -> None:
    a, b, c = _txs(3)
    kept = fresh([b, a, b, c, a], lambda ids: {a.tx_id} & set(ids))
    assert kept == (b, c)


def test_a_candidate_takes_the_batch_time_but_never_earlier_than_the_head() -> None:
    txs = _txs(2)
    later = candidate(_batch(txs), head=HEAD, nodes={}, in_log=lambda ids: set(),
                      loads=orjson.loads)
    assert (later.envelopes, later.time, later.problem) == (tuple(txs), "2026-01-10T00:00:05Z",
                                                            None)
    earlier = candidate(_batch(txs, time="2026-01-09T00:00:00Z"), head=HEAD, nodes={},
                        in_log=lambda ids: set(), loads=orjson.loads)
    assert earlier.time == HEAD.time


def test_a_refused_batch_is_an_empty_block_by_no_one_at_the_heads_time() -> None:
    refused = candidate(b"not json", head=HEAD, nodes={}, in_log=lambda ids: set(),
                        loads=orjson.loads)
    assert (refused.envelopes, refused.proposer, refused.time) == ((), "unknown", HEAD.time)
    assert refused.problem


def test_transactions_of_another_chain_are_dropped_and_counted() -> None:
    ours, theirs = _txs(1)[0], signed(chain_id="other-chain")
    got = candidate(orjson.dumps({"chain_id": "unit-chain", "proposer": "node1",
                                  "time": HEAD.time, "txs": [ours.to_json(), theirs.to_json()]}),
                    head=HEAD, nodes={}, in_log=lambda ids: set(), loads=orjson.loads)
    assert (got.envelopes, got.dropped) == ((ours,), 1)


def test_the_parties_are_the_signers_and_the_parties_events_name() -> None:
    envelope = signed()
    result = TxResult(envelope.tx_id, True, "ok", "", (),
                      ({"type": "x", "parties": [BOB, 5, CAROL]}, "not an event"))
    assert parties_of(envelope, result) == frozenset({*envelope.body.signers, BOB, CAROL})
    assert ALICE in envelope.body.signers
