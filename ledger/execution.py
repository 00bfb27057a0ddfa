"""Deterministic execution of ordered transactions against the world state.

The world state is a key-value map of canonical JSON values.  A block is
executed transaction by transaction, each seeing the writes of those before
it; a transaction that breaks a rule is kept in the block, marked invalid with
its reason, and writes nothing.  Nothing here touches a clock, a disk or the
network: state, block time and the replay sets arrive as arguments, so every
node (and every auditor re-executing the chain) computes the same results.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from typing import Any, Protocol

from ledger.block import TxResult
from ledger.canonical import JSONValue, canonical_bytes, parse_trusted
from ledger.crypto import PublicKey
from ledger.errors import (
    ContractViolation,
    LedgerError,
    ReplayError,
    SignatureError,
    UnknownContractError,
    ValidityWindowError,
)
from ledger.membership import Member, member_state_key
from ledger.timefmt import parse_date, parse_timestamp
from ledger.tx import Envelope

_DELETED = object()


class StateReader(Protocol):
    """Read-only access to committed world state."""

    def get(self, key: str) -> JSONValue | None:
        """Return the value stored at `key`, or None if there is none."""


Decoder = Callable[[Any], Any]
Hint = tuple[Decoder, Any]


def decoded(state: StateReader, key: str, decoder: Decoder) -> Any:
    """Return `decoder(value at key)`, or None if absent, through any decode cache.

    Readers that keep decoded values (the node's state cache) return the
    same immutable object for the same key version and decoder, so hot
    records (members, credit lines) are parsed once, not on every read.
    """
    method = getattr(state, "decoded", None)
    if method is not None:
        return method(key, decoder)
    value = state.get(key)
    return None if value is None else decoder(value)


class VersionedReader(StateReader, Protocol):
    """Committed state that also tells when each key last changed."""

    def version(self, key: str) -> int:
        """Return the height at which `key` was last written (0 if never)."""


@dataclass(frozen=True)
class Simulation:
    """A transaction executed ahead of ordering, with everything its result depended on.

    At commit the result is reused only if every key it read still has the
    version it saw (and no earlier transaction of the block wrote it), the
    business date is the same, and, if the action depended on the exact
    height, the height is the same too.  Otherwise it is executed again.
    """

    date: str
    height: int
    height_sensitive: bool
    # key -> committed version seen, or the id of the earlier transaction of the
    # same submission whose (simulated) write it saw
    reads: Mapping[str, int | str]
    writes: tuple[tuple[str, bytes | None], ...]
    events: tuple[JSONValue, ...]
    hints: Mapping[str, Hint] = field(default_factory=dict, compare=False, repr=False)

    def still_valid(
        self, block: BlockContext, state: VersionedReader, block_state: Overlay
    ) -> bool:
        """Return whether executing again in `block` would give the same result."""
        if block.time[:10] != self.date:
            return False
        if self.height_sensitive and block.height != self.height:
            return False
        for key, seen in self.reads.items():
            if isinstance(seen, str):
                if block_state.writer(key) != seen:
                    return False
            elif block_state.has_write(key) or state.version(key) != seen:
                return False
        return True


class ReadRecorder:
    """A reader that records, for one simulated transaction, the versions it saw."""

    def __init__(self, pending: Overlay, committed: VersionedReader) -> None:
        self._pending = pending
        self._committed = committed
        self.reads: dict[str, int | str] = {}

    def get(self, key: str) -> JSONValue | None:
        """Read through the batch's pending writes, recording committed versions."""
        if self._pending.has_write(key):
            self.reads.setdefault(key, self._pending.writer(key))
            return self._pending.get(key)
        self.reads.setdefault(key, self._committed.version(key))
        return self._committed.get(key)

    def decoded(self, key: str, decoder: Decoder) -> Any:
        """Decode through the batch's pending writes, recording committed versions."""
        if self._pending.has_write(key):
            self.reads.setdefault(key, self._pending.writer(key))
            return self._pending.decoded(key, decoder)
        self.reads.setdefault(key, self._committed.version(key))
        return decoded(self._committed, key, decoder)


@dataclass(frozen=True)
class BlockContext:
    """What a contract may know about the block it runs in."""

    chain_id: str
    height: int
    time: str

    @cached_property
    def moment(self) -> datetime:
        """Return block time as an aware datetime."""
        return parse_timestamp(self.time, what="block time")

    @cached_property
    def date(self) -> date:
        """Return the block's UTC calendar date (the business date of its transactions)."""
        return parse_date(self.time[:10], what="block date")


class Overlay:
    """Writes layered over a reader; values are stored as canonical bytes.

    Storing bytes means no caller can mutate a value another one will read.
    """

    def __init__(self, base: StateReader) -> None:
        self._base = base
        self._base_decoded: Callable[[str, Decoder], Any] | None = getattr(base, "decoded", None)
        self._writes: dict[str, bytes | object] = {}
        self._writers: dict[str, str] = {}
        self._hints: dict[str, Hint] = {}

    def get(self, key: str) -> JSONValue | None:
        """Return the newest value at `key`, or None."""
        if key in self._writes:
            raw = self._writes[key]
            return None if raw is _DELETED else parse_trusted(raw)  # type: ignore[arg-type]
        return self._base.get(key)

    def decoded(self, key: str, decoder: Decoder) -> Any:
        """Return the decoded newest value at `key` (cached below this overlay's writes)."""
        if key in self._writes:
            hint = self._hints.get(key)
            if hint is not None and hint[0] == decoder:  # == : a classmethod is bound anew
                return hint[1]
            value = self.get(key)
            return None if value is None else decoder(value)
        if self._base_decoded is not None:
            return self._base_decoded(key, decoder)
        value = self._base.get(key)
        return None if value is None else decoder(value)

    def put(self, key: str, value: JSONValue, hint: Hint | None = None) -> None:
        """Write `value` at `key` (None deletes).

        `hint` is (decoder, decoded): the immutable object `decoder` would
        build from this value, kept so later reads need not decode again.
        """
        self._writes[key] = _DELETED if value is None else canonical_bytes(value)
        self._set_hint(key, hint)

    def _set_hint(self, key: str, hint: Hint | None) -> None:
        if hint is None:
            self._hints.pop(key, None)
        else:
            self._hints[key] = hint

    def hints(self) -> dict[str, Hint]:
        """Return the decoded objects known for this overlay's writes."""
        return dict(self._hints)

    def has_write(self, key: str) -> bool:
        """Return whether this overlay (not its base) holds a write for `key`."""
        return key in self._writes

    def put_raw(
        self, key: str, raw: bytes | None, writer: str = "", hint: Hint | None = None
    ) -> None:
        """Write already-canonical bytes at `key` (None deletes), as written by `writer`."""
        self._writes[key] = _DELETED if raw is None else raw
        self._writers[key] = writer
        self._set_hint(key, hint)

    def merge(self, other: Overlay, writer: str = "") -> None:
        """Take over every write of `other` (layered on this overlay), as written by `writer`."""
        self._writes.update(other._writes)
        for key in other._writes:
            self._writers[key] = writer
            self._set_hint(key, other._hints.get(key))

    def writer(self, key: str) -> str:
        """Return who last wrote `key` in this overlay ("" if unknown or not written)."""
        return self._writers.get(key, "")

    def writes(self) -> tuple[tuple[str, JSONValue], ...]:
        """Return the writes sorted by key, with None for deletions."""
        return tuple(
            (k, None if v is _DELETED else parse_trusted(v))  # type: ignore[arg-type]
            for k, v in sorted(self._writes.items())
        )

    def raw_writes(self) -> dict[str, bytes | None]:
        """Return the writes as canonical bytes (None for deletions), unsorted."""
        return {k: None if v is _DELETED else v for k, v in self._writes.items()}  # type: ignore[misc]


class Call:
    """One transaction as seen by the contract action that executes it."""

    def __init__(self, envelope: Envelope, tx_id: str, block: BlockContext, state: Overlay):
        self.tx_id = tx_id
        self.body = envelope.body
        self.args: Mapping[str, Any] = envelope.body.args
        self.block = block
        self.state = state
        self.events: list[JSONValue] = []
        self.height_sensitive = False
        self._authorised: set[str] = set()

    def depends_on_height(self) -> None:
        """Declare that the result would differ at another block height.

        A contract calls this when it branches on the height itself (e.g. a
        policy version that takes effect at a later height), so that a result
        simulated at one height is never reused at another.
        """
        self.height_sensitive = True

    @property
    def signers(self) -> tuple[str, ...]:
        """Return the organisations that signed this transaction."""
        return self.body.signers

    def authorise(self, uscc: str, rule: str) -> None:
        """Require that `uscc` signed; else raise ContractViolation(`rule`) saying it did not."""
        if uscc not in self.body.signers:
            raise ContractViolation(rule, f"{uscc} has not signed")
        self._authorised.add(uscc)

    def unused_signers(self) -> list[str]:
        """Return signers that no rule of the action asked for."""
        return [s for s in self.body.signers if s not in self._authorised]

    def emit(self, event: dict[str, JSONValue]) -> None:
        """Record a business event (carried in the result, hashed into result_root)."""
        self.events.append(event)


Action = Callable[[Call], None]
SignatureCheck = Callable[[Envelope, Callable[[str], PublicKey | None]], None]


def default_signature_check(envelope: Envelope, key_of: Callable[[str], PublicKey | None]) -> None:
    """Verify every signature of `envelope` (the node may substitute a cached check)."""
    envelope.verify(key_of)


def _vouched(_key: PublicKey, _signature: Any) -> bool:
    """Say that a signature verified: a quorum's nodes checked it (see `Executor.execute_block`)."""
    return True


@dataclass(frozen=True)
class ReplayGuard:
    """Transaction ids and (signer, nonce) pairs already committed before this block."""

    seen_tx_ids: frozenset[str] = frozenset()
    used_nonces: frozenset[tuple[str, str]] = frozenset()


class Executor:
    """Runs transactions through the registered contract actions."""

    def __init__(
        self,
        contracts: Mapping[str, Mapping[str, Action]],
        signature_check: SignatureCheck = default_signature_check,
    ) -> None:
        self._contracts = contracts
        self._signature_check = signature_check

    def run(self, envelope: Envelope, block: BlockContext, state: Overlay,
            vouched: bool = False) -> Call:
        """Execute one transaction on `state` (a fresh overlay) and return the call.

        Checks chain, window, signatures and membership, then the contract
        (`vouched`: the Ed25519 checks are taken as passed, see
        `execute_block`).  Raises a LedgerError subclass naming the rule that
        failed; on failure the caller must discard `state`.  Replay is
        checked by the caller.
        """
        body = envelope.body
        if body.chain_id != block.chain_id:
            raise ReplayError(f"transaction is for chain {body.chain_id!r}, not {block.chain_id!r}")
        self._check_window(envelope, block)
        self._check_signers(envelope, state, vouched)
        action = self._lookup(body.contract, body.action)
        call = Call(envelope, envelope.tx_id, block, state)
        action(call)
        unused = call.unused_signers()
        if unused:
            raise SignatureError(
                f"every signer must be a party to the action; {', '.join(unused)} is not"
            )
        return call

    def _lookup(self, contract: str, action: str) -> Action:
        actions = self._contracts.get(contract)
        if actions is None:
            raise UnknownContractError(f"unknown contract {contract!r}")
        if action not in actions:
            raise UnknownContractError(f"contract {contract!r} has no action {action!r}")
        return actions[action]

    @staticmethod
    def _check_window(envelope: Envelope, block: BlockContext) -> None:
        if not envelope.body.not_before <= block.time <= envelope.body.not_after:
            raise ValidityWindowError(
                f"block time {block.time} is outside the transaction's validity window "
                f"[{envelope.body.not_before}, {envelope.body.not_after}]"
            )

    def _check_signers(self, envelope: Envelope, state: StateReader, vouched: bool) -> None:
        if is_genesis(envelope):
            self._signature_check(envelope, genesis_keys(envelope))
            return

        def key_of(uscc: str) -> PublicKey | None:
            member = member_of(state, uscc)
            if member is not None and not member.is_active:
                raise SignatureError(f"signer {uscc} is suspended")
            return None if member is None else member.public_key

        if vouched:  # every signer still a member, active, and present: only Ed25519 skipped
            envelope.verify(key_of, known=_vouched)
        else:
            self._signature_check(envelope, key_of)

    def simulate(
        self, envelope: Envelope, block: BlockContext, pending: Overlay,
        committed: VersionedReader,
    ) -> Simulation:
        """Execute `envelope` on top of `pending`, recording what the result depended on.

        Raises like `run`; on success the writes are merged into `pending`.
        """
        recorder = ReadRecorder(pending, committed)
        tx_state = Overlay(recorder)
        call = self.run(envelope, block, tx_state)
        pending.merge(tx_state, writer=envelope.tx_id)
        return Simulation(
            date=block.time[:10], height=block.height, height_sensitive=call.height_sensitive,
            reads=recorder.reads, writes=tuple(sorted(tx_state.raw_writes().items())),
            events=tuple(call.events), hints=tx_state.hints(),
        )

    def execute_block(
        self,
        envelopes: Iterable[Envelope],
        *,
        state: StateReader,
        block: BlockContext,
        replay: ReplayGuard,
        simulations: Mapping[str, Simulation] | None = None,
        vouched: bool = False,
    ) -> tuple[list[TxResult], Overlay]:
        """Execute a block's transactions in order; return per-tx outcomes and all writes.

        Never raises for a bad transaction: it is marked invalid with its reason.
        `simulations` (with a `state` that is a VersionedReader) lets results
        computed ahead of ordering be reused where they are provably the same.
        `vouched` takes every Ed25519 signature as verified (membership, an
        active signer and every listed signer's presence are still checked):
        only for a block whose certified header is then required, since the
        header commits to the exact signed bytes and to each transaction's
        validity, which a quorum's nodes decided by verifying them.
        """
        block_state = Overlay(state)
        seen = set(replay.seen_tx_ids)
        nonces = set(replay.used_nonces)
        outcomes = []
        for envelope in envelopes:
            reusable = self._reusable(envelope, block, state, block_state, simulations)
            if reusable is not None and envelope.tx_id not in seen and not any(
                (s, envelope.body.nonce) in nonces for s in envelope.body.signers
            ):
                outcome = _apply_simulation(envelope, reusable, block_state)
                seen.add(envelope.tx_id)
                nonces.update((s, envelope.body.nonce) for s in envelope.body.signers)
            else:
                outcome = self._execute_one(envelope, block, block_state, seen, nonces,
                                            vouched)
            outcomes.append(outcome)
        return outcomes, block_state

    def _reusable(
        self, envelope: Envelope, block: BlockContext, state: StateReader,
        block_state: Overlay, simulations: Mapping[str, Simulation] | None,
    ) -> Simulation | None:
        simulation = (simulations or {}).get(envelope.tx_id)
        if simulation is None or not hasattr(state, "version"):
            return None
        if envelope.body.chain_id != block.chain_id:
            return None
        if not envelope.body.not_before <= block.time <= envelope.body.not_after:
            return None
        versioned: VersionedReader = state  # type: ignore[assignment]
        if not simulation.still_valid(block, versioned, block_state):
            return None
        return simulation

    def _execute_one(
        self,
        envelope: Envelope,
        block: BlockContext,
        block_state: Overlay,
        seen: set[str],
        nonces: set[tuple[str, str]],
        vouched: bool,
    ) -> TxResult:
        tx_id = envelope.tx_id
        pairs = {(s, envelope.body.nonce) for s in envelope.body.signers}
        tx_state = Overlay(block_state)
        try:
            check_not_replayed(tx_id, pairs, seen, nonces)
            call = self.run(envelope, block, tx_state, vouched)
        except LedgerError as exc:
            return TxResult(tx_id, False, exc.code, str(exc), (), ())
        except Exception as exc:  # a contract bug must not split the network
            return TxResult(tx_id, False, "internal_error", type(exc).__name__, (), ())
        finally:
            seen.add(tx_id)
            nonces.update(pairs)
        block_state.merge(tx_state, writer="re-executed:" + tx_id)
        encoded = tuple(sorted(tx_state.raw_writes().items()))
        return TxResult(tx_id, True, "ok", "", (), tuple(call.events), encoded)


def _apply_simulation(envelope: Envelope, simulation: Simulation, block_state: Overlay) -> TxResult:
    for key, raw in simulation.writes:
        block_state.put_raw(key, raw, writer=envelope.tx_id, hint=simulation.hints.get(key))
    return TxResult(envelope.tx_id, True, "ok", "", (), simulation.events, simulation.writes)


def check_not_replayed(
    tx_id: str, pairs: set[tuple[str, str]], seen: set[str] | frozenset[str],
    nonces: set[tuple[str, str]] | frozenset[tuple[str, str]],
) -> None:
    """Raise ReplayError if the id or any signer's nonce was used before."""
    if tx_id in seen:
        raise ReplayError(f"transaction {tx_id} has already been submitted")
    reused = sorted(s for s, n in pairs if (s, n) in nonces)
    if reused:
        raise ReplayError(f"nonce already used by {', '.join(reused)}")


def is_genesis(envelope: Envelope) -> bool:
    """Return whether `envelope` is the consortium's founding transaction."""
    return envelope.body.contract == "registry" and envelope.body.action == "genesis"


def genesis_keys(envelope: Envelope) -> Callable[[str], PublicKey | None]:
    """Return a key lookup over the members a genesis transaction introduces.

    The founding members' keys cannot come from state (it is empty), so the
    genesis is self-signed: each founder signs with the key it registers.
    """
    members = envelope.body.args.get("members")
    keys: dict[str, PublicKey] = {}
    if isinstance(members, list):
        for value in members:
            member = Member.from_json(value)
            keys[member.uscc] = member.public_key
    return keys.get


def member_of(state: StateReader, uscc: str) -> Member | None:
    """Return the member record for `uscc`, or None if it is not a member."""
    member: Member | None = decoded(state, member_state_key(uscc), Member.from_json)
    return member
