"""How an ordered batch becomes the next block: the one derivation the node and the audit share.

Every node turns each batch the orderer gives it into the next block, and an
auditor re-derives every block from the same kept batches; if the two did it
differently, a correct node would fail its audit, or a wrong one pass it.
So the rules live here, once, as pure functions over what the caller knows
of the chain so far (its head, state, which transactions are already in the
log, which nonces are used):

1. `candidate`: decode the batch by the network's rules (`decode_batch`:
   signed by a registered node on a network), drop transactions already in
   the log and repeats within the batch (`fresh`), and take the block time
   from the batch, never earlier than the head's;
2. `derive`: execute the candidate's transactions in order over the state
   (invalid ones are kept, with their reason) and build the header;
3. `parties_of`: who a committed transaction concerns (its signers and every
   party its events name), which decides who may read it.

`derive_block` is steps 1 and 2 in one call, as a node applies an ordered
batch.  The audit runs the steps apart, because it may have to choose
between the kept batch and the stored transactions before executing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from ledger.attestation import NodeInfo
from ledger.batch import Loads, ParseEnvelope, Verified, decode_batch, parse_or_none
from ledger.block import BlockHeader, TxResult, next_header
from ledger.execution import (
    BlockContext,
    Executor,
    Overlay,
    ReplayGuard,
    Simulation,
    StateReader,
)
from ledger.tx import Envelope

NoncePair = tuple[str, str]  # (signer, nonce)
InLog = Callable[[list[str]], set[str]]  # which of these transaction ids are already in the log
UsedNonces = Callable[[set[NoncePair]], Iterable[NoncePair]]  # which of these pairs are used


@dataclass(frozen=True)
class Candidate:
    """What a batch puts in the next block: its fresh transactions, proposer and block time.

    `problem` says why the whole batch was refused (an empty block proposed
    by "unknown" at the head's time, then); `dropped` counts transactions
    left out because they did not parse or named another chain.
    """

    envelopes: tuple[Envelope, ...]
    proposer: str
    time: str
    problem: str | None = None
    dropped: int = 0


@dataclass(frozen=True)
class Derived:
    """A block as derived: its header, one result per transaction, and all its writes."""

    header: BlockHeader
    envelopes: tuple[Envelope, ...]
    results: list[TxResult]
    writes: Overlay
    used_nonces: frozenset[NoncePair]  # the block's (signer, nonce) pairs earlier blocks used


def fresh(envelopes: Sequence[Envelope], in_log: InLog) -> tuple[Envelope, ...]:
    """Return `envelopes` without those already in the log and without repeats, in order."""
    seen = set(in_log([e.tx_id for e in envelopes]))
    kept = []
    for envelope in envelopes:
        if envelope.tx_id not in seen:
            seen.add(envelope.tx_id)
            kept.append(envelope)
    return tuple(kept)


def candidate(
    data: bytes, *, head: BlockHeader, nodes: Mapping[str, NodeInfo], in_log: InLog,
    loads: Loads, parse: ParseEnvelope = parse_or_none, verified: Verified | None = None,
) -> Candidate:
    """Return what the ordered batch `data` puts in the block after `head`.

    `parse` and `verified` let an auditor reuse what its verifier process
    already parsed and checked (ledger.batch.decode_batch says how).
    Never raises for bad data: a refused batch gives an empty candidate.
    """
    decoded = decode_batch(data, chain_id=head.chain_id, nodes=nodes, previous_time=head.time,
                           loads=loads, parse=parse, verified=verified)
    return Candidate(fresh(decoded.envelopes, in_log), decoded.proposer,
                     max(decoded.time, head.time), decoded.problem, decoded.dropped)


def derive(
    envelopes: Sequence[Envelope], *, head: BlockHeader, position: int, proposer: str,
    time: str, state: StateReader, used_nonces: UsedNonces, executor: Executor,
    simulations: Mapping[str, Simulation] | None = None, vouched: bool = False,
) -> Derived:
    """Execute the block after `head` with `envelopes` and build its header.

    `used_nonces(pairs)` answers which (signer, nonce) pairs of the block's
    transactions earlier blocks used; `simulations` are results computed
    ahead of ordering that the executor may reuse where provably the same;
    `vouched`: Ed25519 taken as verified (`Executor.execute_block` says
    when that is safe).
    """
    pairs = {(s, e.body.nonce) for e in envelopes for s in e.body.signers}
    used = frozenset(used_nonces(pairs)) if pairs else frozenset()
    results, writes = executor.execute_block(
        envelopes, state=state, block=BlockContext(head.chain_id, head.height + 1, time),
        replay=ReplayGuard(frozenset(), used), simulations=simulations, vouched=vouched)
    header = next_header(head, position=position, proposer=proposer, time=time,
                         results=results, leaves=[e.leaf for e in envelopes])
    return Derived(header, tuple(envelopes), results, writes, used)


def derive_block(
    data: bytes, position: int, *, head: BlockHeader, nodes: Mapping[str, NodeInfo],
    state: StateReader, in_log: InLog, used_nonces: UsedNonces, executor: Executor,
    loads: Loads, parse: ParseEnvelope = parse_or_none,
    simulations: Mapping[str, Simulation] | None = None,
) -> tuple[Candidate, Derived]:
    """Turn the batch at ordering `position` into the block after `head`: `candidate`, `derive`.

    `parse` may return envelopes the caller already parsed for the same wire
    values (a node keeps those it accepted itself).
    """
    chosen = candidate(data, head=head, nodes=nodes, in_log=in_log, loads=loads, parse=parse)
    derived = derive(chosen.envelopes, head=head, position=position, proposer=chosen.proposer,
                     time=chosen.time, state=state, used_nonces=used_nonces, executor=executor,
                     simulations=simulations)
    return chosen, derived


def parties_of(envelope: Envelope, result: TxResult) -> frozenset[str]:
    """Return the organisations a transaction concerns: its signers and its events' parties."""
    return parties_named(envelope.body.signers, result.events)


def parties_named(signers: Iterable[object], events: object) -> frozenset[str]:
    """Return the signers and the parties the events name, from any decoded JSON.

    `parties_of` over the parsed transaction; this is the same rule over a
    stored envelope's `signers` and its events list, whatever their shape.
    """
    parties = {s for s in signers if isinstance(s, str)}
    for event in events if isinstance(events, list | tuple) else ():
        if isinstance(event, dict):
            named = event.get("parties", ())
            parties.update(p for p in (named if isinstance(named, list | tuple) else ())
                           if isinstance(p, str))
    return frozenset(parties)
