"""Every block keeps the signed batch it was made from, also when caught up from a peer.

A block is made from one ordered batch; the exact batch bytes are stored with
it (genesis has none), so the block can be derived again from what was
ordered.  A node that catches up from a peer receives the batch with each
certified block, checks that it is the batch the block was made from, and
keeps it too; any other batch is refused.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from contracts import CONTRACTS
from ledger.batch import open_batch, sign_batch
from ledger.block import BlockHeader
from ledger.canonical import parse_json
from ledger.crypto import b64encode
from ledger.errors import LedgerError
from ledger.execution import Executor
from node.finality.catch_up import CertifiedBlock
from node.pipeline.chain import Chain
from node.storage.store import Store
from scripts.sample_chain import (
    SampleBuilder,
    build_sample_chain,
    sample_genesis,
    sample_node_keys,
)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """A small sample chain (signed batches) in a node database."""
    path = tmp_path_factory.mktemp("kept") / "node.db"
    build_sample_chain(f"sqlite:///{path}", transactions=60, lanes=6)
    return Store(f"sqlite:///{path}")


def _header(store: Store, height: int) -> BlockHeader:
    raw = store.block_header(height)
    assert raw is not None
    return BlockHeader.from_json(parse_json(raw))


def _chain_from_scratch(path: Path) -> Chain:
    return Chain(Store(f"sqlite:///{path / 'catching-up.db'}"), sample_genesis(),
                 Executor(CONTRACTS))


def test_every_block_but_genesis_keeps_the_signed_batch_it_was_made_from(sample: Store) -> None:
    assert sample.block_batch(0) is None
    head = sample.head_height()
    assert head is not None and head > 5
    for height in range(1, head + 1):
        batch = sample.block_batch(height)
        assert batch is not None, height
        signed = open_batch(batch)
        assert signed.node_id in ("node1", "node2")
        stored = [row.envelope for row in sample.block_txs(height)]
        header = _header(sample, height)
        assert header.tx_count == len(stored)


def test_a_node_catching_up_keeps_the_batches_and_refuses_any_other(
    sample: Store, tmp_path: Path
) -> None:
    chain = _chain_from_scratch(tmp_path)
    head = sample.head_height()
    assert head is not None
    for height in range(1, head + 1):
        header = _header(sample, height)
        envelopes = [CertifiedBlock.from_json({
            "header": header.to_json(), "transactions": [parse_json(r.envelope)],
            "attestations": []}).envelopes[0] for r in sample.block_txs(height)]
        batch = sample.block_batch(height)
        assert batch is not None
        if height == 3:
            other = sample.block_batch(4)
            assert other is not None
            with pytest.raises(LedgerError, match="is not the batch"):
                chain.apply_certified(header, envelopes, other)
            forged = bytearray(batch)
            forged[-5] ^= 0x01
            with pytest.raises(LedgerError, match="is not the batch"):
                chain.apply_certified(header, envelopes, bytes(forged))
        chain.apply_certified(header, envelopes, batch)
        assert chain.store.block_batch(height) == batch
    assert chain.head.hash() == _header(sample, head).hash()
    results = [[(r.id, r.valid, r.code, r.reason) for r in store.block_txs(height)]
               for store in (sample, chain.store) for height in range(1, head + 1)]
    assert results[:head] == results[head:]
    # signatures a quorum vouched for are not verified again, yet a forged one stays invalid
    assert any(code == "bad_signature" for block in results for _, _, code, _ in block)


def test_a_caught_up_blocks_transactions_may_come_from_its_batch_alone(
    sample: Store, tmp_path: Path
) -> None:
    chain = _chain_from_scratch(tmp_path)
    for height in range(1, 4):
        chain.apply_certified(_header(sample, height), None, sample.block_batch(height))
    assert chain.head.hash() == _header(sample, 3).hash()
    with pytest.raises(LedgerError, match="neither transactions nor batch"):
        chain.apply_certified(_header(sample, 4), None, None)
    with pytest.raises(LedgerError, match="is not the batch"):
        chain.apply_certified(_header(sample, 4), None, sample.block_batch(5))
    batch = sample.block_batch(4)
    assert batch is not None
    signed = open_batch(batch)  # the same proposer signs another batch: one transaction fewer
    body = orjson.loads(signed.body)
    body["txs"] = body["txs"][:-1]
    other = sign_batch(orjson.dumps(body), signed.node_id,
                       sample_node_keys()[signed.node_id]).encode()
    with pytest.raises(LedgerError, match="are not the ones its header commits to"):
        chain.apply_certified(_header(sample, 4), None, other)
    assert chain.head.height == 3


def test_a_synced_block_carries_its_batch_or_says_it_has_none(sample: Store) -> None:
    header = _header(sample, 2)
    batch = sample.block_batch(2)
    assert batch is not None
    wire = {"header": header.to_json(), "transactions": [], "attestations": []}
    assert CertifiedBlock.from_json({**wire, "batch": b64encode(batch)}).batch == batch
    assert CertifiedBlock.from_json({**wire, "batch": None}).batch is None
    assert CertifiedBlock.from_json(wire).batch is None
    with pytest.raises(LedgerError):
        CertifiedBlock.from_json({**wire, "batch": "not base64!"})


def test_a_wire_its_batch_holds_but_no_node_parses_is_dropped_when_caught_up_too(
    tmp_path: Path
) -> None:
    ordered = SampleBuilder(f"sqlite:///{tmp_path / 'ordered.db'}", attest_blocks=False)
    try:
        wire = ordered.tx(["core"], "governance", "propose", {"change": {
            "kind": "add_member", "member": ordered.orgs["newcomer"].member().to_json()}}).to_json()
        odd = {**wire, "body": str(wire["body"]).replace(",", ", ", 1)}  # not canonical
        ordered.block([odd, wire])
        assert ordered.chain.head.tx_count == 1
        chain = _chain_from_scratch(tmp_path)
        for height in range(1, ordered.chain.head.height + 1):
            chain.apply_certified(_header(ordered.store, height), None,
                                  ordered.store.block_batch(height))
        assert chain.head.hash() == ordered.chain.head.hash()
    finally:
        ordered.close()
