"""A node keeps only a bounded part of its state and log in memory, and answers the same.

The same ordered batches, applied by a node whose state cache holds a few
keys and by one that holds them all, give byte-identical headers, state,
log roots and proofs; after a restart neither reads the whole state or
log (nothing is in the cache, and the log's proofs still agree with a
MerkleLog rebuilt from every stored leaf).
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from contracts import CONTRACTS
from ledger.block import BlockHeader
from ledger.canonical import parse_json
from ledger.execution import Executor
from ledger.merkle import MerkleLog, verify_inclusion
from node.config import NodeConfig
from node.ordering import OrderedBatch
from node.pipeline.chain import Chain
from node.storage.store import Store
from scripts.sample_chain import build_sample_chain, sample_genesis

TINY = 8  # state keys: far fewer than a block touches


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """A sample chain (signed batches, every kind of transaction) built with the default cache."""
    path = tmp_path_factory.mktemp("bounded") / "node.db"
    build_sample_chain(f"sqlite:///{path}", transactions=1200, lanes=30)
    return Store(f"sqlite:///{path}")


def _chain(path: Path, keys: int) -> Chain:
    return Chain(Store(f"sqlite:///{path}"), sample_genesis(), Executor(CONTRACTS),
                 state_cache_keys=keys)


def _replay(sample: Store, chain: Chain) -> None:
    head = sample.head_height()
    assert head is not None
    for height in range(chain.head.height + 1, head + 1):
        raw = sample.block_header(height)
        batch = sample.block_batch(height)
        assert raw is not None and batch is not None
        position = BlockHeader.from_json(parse_json(raw)).position
        chain.apply_batch(OrderedBatch(position, batch))


def _full_log(store: Store) -> MerkleLog:
    log = MerkleLog()
    log.extend(store.leaf_hashes(0, store.log_size()))
    return log


def test_a_tiny_state_cache_derives_the_same_chain(sample: Store, tmp_path: Path) -> None:
    tiny = _chain(tmp_path / "tiny.db", TINY)
    _replay(sample, tiny)
    head = sample.head_height()
    assert head is not None and tiny.head.height == head
    for height in range(head + 1):
        assert tiny.store.block_header(height) == sample.block_header(height), height
    assert set(tiny.store.state_items()) == set(sample.state_items())
    assert tiny.state.cached_keys() <= TINY
    full = _full_log(sample)
    assert tiny.log.root() == full.root()
    for size in (1, 2, 255, 256, 257, 700, full.size):
        for index in {0, size // 3, size - 1}:
            assert tiny.log.inclusion_proof(index, size) == full.inclusion_proof(index, size)
        assert tiny.log.consistency_proof(size, full.size) == full.consistency_proof(
            size, full.size)


def test_readers_on_other_threads_see_no_stale_values(sample: Store, tmp_path: Path) -> None:
    """Misses racing the commits: every proof verifies, and no cached value outlives its block."""
    chain = _chain(tmp_path / "raced.db", 64)
    keys = [k for k, _, _ in sample.state_items()]
    done, problems = threading.Event(), []

    def read() -> None:
        turn = 0
        while not done.is_set():
            turn += 1
            chain.state.raw(keys[turn * 7919 % len(keys)])
            size = chain.log.size
            index = turn * 104729 % size
            try:
                verify_inclusion(chain.log.leaf(index), index, size,
                                 chain.log.inclusion_proof(index, size), chain.log.root(size))
            except Exception as exc:  # collected, asserted on below
                problems.append(exc)

    readers = [threading.Thread(target=read) for _ in range(2)]
    for reader in readers:
        reader.start()
    try:
        _replay(sample, chain)
    finally:
        done.set()
        for reader in readers:
            reader.join()
    assert problems == []
    stored = {k: (v, h) for k, v, h in sample.state_items()}
    for key in keys:
        assert (chain.state.raw(key), chain.state.version(key)) == stored[key], key


def test_a_restart_reads_neither_the_whole_state_nor_the_whole_log(
        sample: Store, tmp_path: Path) -> None:
    path = tmp_path / "restarted.db"
    first = _chain(path, 1000)
    _replay(sample, first)
    first.store.close()
    again = _chain(path, 1000)
    assert again.state.cached_keys() == 0  # nothing warmed
    assert again.head == first.head and again.log.size == first.log.size
    full = _full_log(again.store)
    assert again.log.root() == full.root() == first.log.root()
    assert again.log.inclusion_proof(17, full.size) == full.inclusion_proof(17, full.size)
    note = next(k for k, _, _ in again.store.state_items() if k.startswith("note/"))
    assert again.state.raw(note) == first.state.raw(note)


def test_an_older_database_gains_its_log_subtrees_once(sample: Store, tmp_path: Path) -> None:
    """A database from before the subtree table: the table is filled from the leaves."""
    path = tmp_path / "older.db"
    _replay(sample, _chain(path, 1000))
    with Store(f"sqlite:///{path}").engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE log_subtrees")
    reopened = _chain(path, 1000)
    assert reopened.log.root() == _full_log(sample).root()


def test_the_state_cache_size_is_a_validated_setting(tmp_path: Path) -> None:
    genesis = tmp_path / "genesis.json"
    assert NodeConfig(genesis_path=genesis).state_cache_keys == 50_000
    with pytest.raises(ValueError, match="state_cache_keys must be at least 1,000"):
        NodeConfig(genesis_path=genesis, state_cache_keys=10)
    with pytest.raises(ValueError, match="state_cache_keys must be at least 1,000"):
        NodeConfig.load(None, genesis_path=genesis, state_cache_keys="999")


def test_the_sqlite_page_cache_is_a_validated_setting(tmp_path: Path) -> None:
    """`sqlite_cache_mib` reaches every connection's PRAGMA, and nonsense is refused by name."""
    genesis = tmp_path / "genesis.json"
    assert NodeConfig(genesis_path=genesis).sqlite_cache_mib == 16
    with pytest.raises(ValueError, match="sqlite_cache_mib must be 1 to 16,384"):
        NodeConfig.load(None, genesis_path=genesis, sqlite_cache_mib="0")
    store = Store(f"sqlite:///{tmp_path / 'cache.db'}", sqlite_cache_mib=8)
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -8 * 1024
    store.close()


def test_the_signature_cache_keeps_only_transactions_in_flight(tmp_path: Path) -> None:
    """Verified signatures are forgotten once their transaction commits.

    The cache once kept 200,000 entries of history: a soak at 100 tx/s saw
    every node's memory grow by ~1.4 MB a minute for half an hour.
    """
    from tests.node.support import grant_line, issue_accepted
    from tests.nodes import running_node

    with running_node(tmp_path) as n:
        cache = n.service.admission.signatures
        at_start = len(cache)  # the genesis transaction's, verified as block 0 is derived
        line = grant_line(n)
        for _ in range(3):
            issue_accepted(n, line)
        assert len(cache) == at_start <= 1
