"""The contract code hash and its pin in the genesis.

The hash covers every `*.py` file of the contracts package, by relative path,
so the same code gives the same hash wherever it is installed, and any change
to a byte, a file name or the set of files gives another one.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from contracts import CONTRACTS, code
from contracts.code import code_hash, pinned_code_hash
from ledger.block import TxResult
from ledger.execution import BlockContext, Executor, ReplayGuard
from ledger.timefmt import format_timestamp
from tests.builders import CHAIN_ID, START, DictState, MemoryChain, build_tx, make_orgs


@pytest.fixture
def package(tmp_path: Path) -> Path:
    """A copy of the contracts package (without caches)."""
    target = tmp_path / "contracts"
    shutil.copytree(code.PACKAGE_DIR, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def test_the_hash_names_the_code_not_where_it_lives(package: Path) -> None:
    assert len(code_hash()) == 64
    assert code_hash(package) == code_hash() == code_hash(package)


def test_one_changed_byte_changes_the_hash(package: Path) -> None:
    path = package / "receivable" / "transfer.py"
    path.write_bytes(path.read_bytes() + b"#")
    assert code_hash(package) != code_hash()


def test_renaming_or_adding_a_module_changes_the_hash(package: Path) -> None:
    original = code_hash(package)
    (package / "notes.py").write_text("", encoding="utf-8")
    with_empty = code_hash(package)
    assert with_empty != original
    (package / "notes.py").rename(package / "other.py")
    assert code_hash(package) not in {original, with_empty}


def test_caches_and_other_files_are_not_code(package: Path) -> None:
    original = code_hash(package)
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "stale.py").write_text("x = 1\n", encoding="utf-8")
    (package / "README.txt").write_text("notes\n", encoding="utf-8")
    assert code_hash(package) == original


def _found(contracts_hash: object) -> tuple[TxResult, DictState]:
    """Run a genesis pinning `contracts_hash`; return its result and the state it made."""
    orgs = make_orgs()
    args = {"members": [o.member().to_json() for o in orgs.values()], "policies": {},
            "contracts_hash": contracts_hash}
    env = build_tx(orgs, list(orgs), "registry", "genesis", args, now=START)
    block = BlockContext(CHAIN_ID, 0, format_timestamp(START))
    results, overlay = Executor(CONTRACTS).execute_block(
        [env], state=DictState(), block=block, replay=ReplayGuard())
    state = DictState()
    state.apply(overlay)
    return results[0], state


def test_a_genesis_pins_the_contract_code() -> None:
    result, state = _found(code_hash())
    assert result.valid, result.reason
    assert state.get("contracts/pinned") == [{"from_height": 0, "hash": code_hash()}]
    assert pinned_code_hash(state, 0) == pinned_code_hash(state, 10**6) == code_hash()
    assert result.events[0]["contracts_hash"] == code_hash()


def test_without_a_pin_nothing_is_pinned() -> None:
    c = MemoryChain()
    assert c.get("contracts/pinned") is None and pinned_code_hash(c.state, 5) is None


def test_a_malformed_pin_is_a_schema_error() -> None:
    result, state = _found("AB" * 32)
    assert (result.code, result.reason) == (
        "bad_schema", "contracts_hash must be a 64-digit lower-case hex id, not 'ABABABAB'... "
                      "(64 characters, not all of them 0-9 or a-f)")
    assert state.data == {}
