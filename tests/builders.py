"""Shared builders for tests: demo members, signed transactions and an in-memory chain.

`MemoryChain` runs the real executor and contracts over a plain dict, one
block per call, so contract tests read like the business story.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from contracts import CONTRACTS
from ledger.block import TxResult
from ledger.canonical import JSONValue, parse_json
from ledger.crypto import PrivateKey
from ledger.execution import BlockContext, Executor, Overlay, ReplayGuard
from ledger.membership import Member, Role, make_uscc
from ledger.timefmt import format_timestamp
from ledger.tx import Envelope, TxBody, sign_body

CHAIN_ID = "test-chain"
START = datetime(2026, 1, 5, 9, 0, 0, tzinfo=UTC)


def key_for(name: str) -> PrivateKey:
    """Return a deterministic test key for `name`."""
    return PrivateKey(hashlib.sha256(f"test-key:{name}".encode()).digest())


def uscc_for(index: int) -> str:
    """Return a valid, distinct USCC for test organisation number `index`."""
    return make_uscc(f"91310000MA{index:07d}")


@dataclass(frozen=True)
class Org:
    """A test organisation: name, USCC, roles and key."""

    name: str
    uscc: str
    roles: frozenset[Role]
    key: PrivateKey

    def member(self) -> Member:
        """Return the on-chain member record."""
        return Member(self.uscc, self.name, self.roles, self.key.public_key)


def make_orgs() -> dict[str, Org]:
    """Return the standard cast: core, suppliers s1..s4, banks b1, b2, auditor."""
    cast = [
        ("core", Role.CORE_ENTERPRISE), ("s1", Role.SUPPLIER), ("s2", Role.SUPPLIER),
        ("s3", Role.SUPPLIER), ("s4", Role.SUPPLIER), ("b1", Role.BANK), ("b2", Role.BANK),
        ("auditor", Role.AUDITOR), ("core2", Role.CORE_ENTERPRISE),
    ]
    return {
        name: Org(name, uscc_for(i + 1), frozenset({role}), key_for(name))
        for i, (name, role) in enumerate(cast)
    }


_nonces = itertools.count(1)


def build_tx(
    orgs: Mapping[str, Org], signers: list[str], contract: str, action: str,
    args: Mapping[str, Any], *, now: datetime, chain_id: str = CHAIN_ID,
) -> Envelope:
    """Sign a transaction by the named orgs, valid for a day around `now`."""
    body = TxBody(
        chain_id=chain_id, contract=contract, action=action, args=dict(args),
        signers=tuple(orgs[s].uscc for s in signers),
        nonce=f"{next(_nonces):016x}",
        not_before=format_timestamp(now - timedelta(hours=1)),
        not_after=format_timestamp(now + timedelta(days=1)),
    )
    return sign_body(body, {orgs[s].uscc: orgs[s].key for s in signers})


def genesis_tx(orgs: Mapping[str, Org], policies: Mapping[str, Any], now: datetime) -> Envelope:
    """Return the self-signed genesis transaction founding the consortium."""
    args = {"members": [o.member().to_json() for o in orgs.values()], "policies": dict(policies)}
    return build_tx(orgs, list(orgs), "registry", "genesis", args, now=now)


class DictState:
    """World state as a dict of canonical bytes."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    def get(self, key: str) -> JSONValue | None:
        raw = self.data.get(key)
        return None if raw is None else parse_json(raw)

    def apply(self, overlay: Overlay) -> None:
        for key, raw in overlay.raw_writes().items():
            if raw is None:
                self.data.pop(key, None)
            else:
                self.data[key] = raw


@dataclass
class MemoryChain:
    """The real executor over an in-memory state: one block per submitted transaction."""

    policies: Mapping[str, Any] = field(default_factory=dict)
    orgs: dict[str, Org] = field(default_factory=make_orgs)
    now: datetime = START
    height: int = 0
    state: DictState = field(default_factory=DictState)
    seen: set[str] = field(default_factory=set)
    nonces: set[tuple[str, str]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.executor = Executor(CONTRACTS)
        result = self.run_block([genesis_tx(self.orgs, self.policies, self.now)])[0]
        assert result.valid, result.reason

    def run_block(self, envelopes: list[Envelope]) -> list[TxResult]:
        """Execute `envelopes` as the next block and commit its writes."""
        block = BlockContext(CHAIN_ID, self.height, format_timestamp(self.now))
        guard = ReplayGuard(frozenset(self.seen), frozenset(self.nonces))
        results, overlay = self.executor.execute_block(
            envelopes, state=self.state, block=block, replay=guard
        )
        self.state.apply(overlay)
        for env in envelopes:
            self.seen.add(env.tx_id)
            self.nonces.update((s, env.body.nonce) for s in env.body.signers)
        self.height += 1
        return results

    def tx(self, signers: list[str] | str, action: str, contract: str = "receivable",
           **args: Any) -> TxResult:
        """Sign and run one transaction by `signers` (org names) in its own block."""
        names = [signers] if isinstance(signers, str) else signers
        env = build_tx(self.orgs, names, contract, action, args, now=self.now)
        return self.run_block([env])[0]

    def ok(self, signers: list[str] | str, action: str, **args: Any) -> TxResult:
        """Like `tx`, but fail the test unless the transaction is valid."""
        result = self.tx(signers, action, **args)
        assert result.valid, f"{action} failed: {result.code}: {result.reason}"
        return result

    def advance(self, days: int = 0, seconds: int = 0) -> None:
        """Move block time forward."""
        self.now += timedelta(days=days, seconds=seconds)

    def get(self, key: str) -> Any:
        """Return the JSON value at `key`."""
        return self.state.get(key)

    def uscc(self, name: str) -> str:
        """Return the USCC of org `name`."""
        return self.orgs[name].uscc
