"""The chain as the audit rebuilds it, block by block, from what was ordered.

Each block is derived by the very rules a node's committer uses
(ledger/derivation.py): decode the kept batch by the network's rules (a
chain with registered nodes takes only batches a registered node signed),
drop transactions already in the log and repeats, execute the rest through
the pinned contracts over the state rebuilt so far, and build the header;
this module feeds those rules what the audit rebuilt.  Nothing stored is trusted: the
stored header only supplies the ordering position (which no batch carries),
and the stored transactions are used only where the batch is missing or
does not give what the header commits to (a finding either way).

The rebuilt state, log, replay sets and "who wrote what last" stay here for
the checks that follow (block_checks.py, tables.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from client.audit.report import AuditReport
from client.audit.source import StoredBlock
from client.audit.state_digests import DigestTrail
from client.audit.verifier import Verdicts
from contracts import CONTRACTS
from contracts.code import code_hash, pinned_code_hash
from ledger.attestation import NODE_PREFIX, NodeInfo
from ledger.batch import parse_or_none
from ledger.block import BlockHeader, TxResult
from ledger.crypto import PublicKey
from ledger.derivation import candidate, derive, fresh, parties_of
from ledger.execution import Executor, Overlay
from ledger.genesis import Genesis, genesis_block
from ledger.merkle import MerkleLog, root_from_leaf_hashes
from ledger.state import StateCache
from ledger.tx import Envelope, envelope_from_checked


class CannotRebuild(Exception):
    """Raised when the chain cannot be rebuilt at all (no usable genesis)."""


@dataclass(frozen=True)
class Derived:
    """One block as re-derived: its header, transactions, their leaf hashes and results."""

    header: BlockHeader
    envelopes: list[Envelope]
    leaves: list[bytes]
    results: list[TxResult]
    first_index: int  # log index of its first transaction
    from_batch: bool = False  # its transactions are those its kept batch gives


class _Candidate:
    """Transactions that may make the block, with their leaf hashes and tx_root."""

    def __init__(self, envelopes: Sequence[Envelope], proposer: str, time: str) -> None:
        self.envelopes = list(envelopes)
        self.proposer = proposer
        self.time = time
        self.leaves = [e.leaf for e in envelopes]
        self.root = root_from_leaf_hashes(self.leaves).hex()


class _SignatureCheck:
    """The executor's signature check: the verifier's verdicts where it has them.

    A separate object, not a method of Replay, so that the executor holds
    no reference back to the rebuilt chain, which is then freed by
    reference counting, not left to the cyclic collector.
    """

    def __init__(self, report: AuditReport) -> None:
        self.report = report
        self.verdicts = Verdicts()

    def __call__(self, envelope: Envelope, key_of: Callable[[str], PublicKey | None]) -> None:
        self.report.stats.signatures += len(envelope.signatures)
        envelope.verify(key_of, known=self.verdicts.known(envelope.tx_id))


class Replay:
    """Rebuilds the chain: state, Merkle log, replay sets and the last writer of every key."""

    def __init__(self, report: AuditReport) -> None:
        self.report = report
        self.state = StateCache()
        self.digests = DigestTrail()  # the rebuilt state's digest after each block
        self.log = MerkleLog()
        self.head: BlockHeader | None = None
        self.hashes: list[str] = []
        self.tx_height: dict[str, int] = {}
        self.nonce_user: dict[tuple[str, str], str] = {}
        self.last_writer: dict[str, tuple[int, str]] = {}
        self.parties: dict[int, tuple[str, frozenset[str]]] = {}
        self.local_code = code_hash()
        self._pin_reported: set[str] = set()
        self._nodes: dict[str, NodeInfo] | None = None
        self._signatures = _SignatureCheck(report)
        self.executor = Executor(CONTRACTS, signature_check=self._signatures)

    @property
    def chain_id(self) -> str:
        """Return the chain id (from the genesis)."""
        return "" if self.head is None else self.head.chain_id

    def nodes(self) -> dict[str, NodeInfo]:
        """Return the registered nodes in the rebuilt state."""
        if self._nodes is None:
            infos = [NodeInfo.from_json(self.state.get(k))
                     for k in self.state.keys_with_prefix(NODE_PREFIX)]
            self._nodes = {n.id: n for n in infos}
        return self._nodes

    # -- genesis ----------------------------------------------------------------

    def genesis(self, stored: StoredBlock, header: BlockHeader | None) -> Derived:
        """Rebuild block 0 from its stored founding transaction; raise CannotRebuild if none."""
        envelope = _genesis_envelope(stored)
        if envelope is None:
            raise CannotRebuild("block 0 holds no readable founding transaction, so there is "
                                "no membership to check anything against")
        time = header.time if header is not None else envelope.body.not_before
        rebuilt = genesis_block(Genesis(envelope.body.chain_id, time, envelope), self.executor)
        return self._commit(rebuilt.header, _Candidate([envelope], rebuilt.header.proposer, time),
                            [rebuilt.result], rebuilt.writes)

    # -- every later block ------------------------------------------------------

    def next_block(self, stored: StoredBlock, header: BlockHeader | None,
                   verdicts: Verdicts) -> Derived:
        """Derive the next block from its kept batch and commit it to the rebuilt chain."""
        head = self.head
        assert head is not None
        self._signatures.verdicts = verdicts
        height = head.height + 1
        self._check_pin(height)
        batch = self._from_batch(stored, verdicts, height)
        chosen = self._choose(stored, header, batch)
        position = header.position if header is not None else head.position + 1
        derived = derive(chosen.envelopes, head=head, position=position,
                         proposer=chosen.proposer, time=chosen.time, state=self.state,
                         used_nonces=self._used_nonces, executor=self.executor)
        return self._commit(derived.header, chosen, derived.results, derived.writes,
                            from_batch=chosen is batch)

    def _in_log(self, tx_ids: list[str]) -> set[str]:
        """Return which of `tx_ids` the rebuilt log holds already."""
        return {tx_id for tx_id in tx_ids if tx_id in self.tx_height}

    def _used_nonces(self, pairs: set[tuple[str, str]]) -> set[tuple[str, str]]:
        """Return which (signer, nonce) pairs earlier rebuilt blocks used."""
        return {pair for pair in pairs if pair in self.nonce_user}

    def _check_pin(self, height: int) -> None:
        pinned = pinned_code_hash(self.state, height)
        if pinned is None or pinned == self.local_code or pinned in self._pin_reported:
            return
        self._pin_reported.add(pinned)
        self.report.find("contract_code", f"the chain pins contract code sha256 {pinned} from "
                         f"here; the audit runs sha256 {self.local_code}, so its re-execution "
                         "of these blocks is not that of the pinned code", block=height)

    def _from_batch(self, stored: StoredBlock, verdicts: Verdicts,
                    height: int) -> _Candidate | None:
        head = self.head
        assert head is not None
        if stored.batch_problem is not None:
            self.report.find("batch", stored.batch_problem, block=height,
                             tx=stored.batch_problem_tx)
            return None
        if stored.batch is None:
            self.report.find("batch", "no batch is kept for this block: its signature cannot be "
                             "checked, nor the block derived from what was ordered",
                             block=height)
            return None
        if not isinstance(stored.batch, bytes):
            self.report.find("batch", "the kept batch is not stored as bytes", block=height)
            return None
        if type(stored.batch_height) is not int or stored.batch_height != height:
            self.report.find("batch", f"the kept batch's row says height "
                             f"{stored.batch_height!r}, not this block's {height}"[:200],
                             block=height)
        chosen = candidate(stored.batch, head=head, nodes=self.nodes(), in_log=self._in_log,
                           loads=orjson.loads, parse=_parser(verdicts.parsed),
                           verified=verdicts.batch_verified)
        self.report.stats.batches += 1
        if chosen.problem is not None:
            self.report.stats.refused_batches += 1
        return _Candidate(chosen.envelopes, chosen.proposer, chosen.time)

    def _choose(self, stored: StoredBlock, header: BlockHeader | None,
                batch: _Candidate | None) -> _Candidate:
        """Take the batch's transactions, unless only the stored ones match the header."""
        height = len(self.hashes)
        if batch is not None and (header is None or batch.root == header.tx_root):
            return batch
        rows = _Candidate(fresh(list(stored_envelopes(stored)), self._in_log),
                          header.proposer if header else "unknown",
                          header.time if header else self._head().time)
        if header is not None and rows.root == header.tx_root:
            if batch is not None:
                self.report.find("batch", "the kept batch does not give the transactions the "
                                 "header commits to (the stored transactions do)", block=height)
            return rows
        if batch is not None:
            self.report.find("batch", "the transactions the kept batch gives are not the ones "
                             "the header commits to", block=height)
            return batch
        return rows

    def _head(self) -> BlockHeader:
        assert self.head is not None
        return self.head

    # -- committing the rebuilt block ------------------------------------------

    def _commit(self, header: BlockHeader, chosen: _Candidate, results: list[TxResult],
                overlay: Overlay, *, from_batch: bool = False) -> Derived:
        writes = overlay.raw_writes()
        self.digests.advance(writes, self.state.raw)
        self.state.apply(writes, header.height, overlay.hints())
        if any(key.startswith(NODE_PREFIX) for key in writes):
            self._nodes = None
        first = self.log.size
        self.log.extend(chosen.leaves)
        self._remember(header.height, first, chosen.envelopes, results)
        self.head = header
        self.hashes.append(header.hash())
        return Derived(header, chosen.envelopes, chosen.leaves, results, first, from_batch)

    def _remember(self, height: int, first: int, envelopes: list[Envelope],
                  results: list[TxResult]) -> None:
        """Record each transaction's height, parties, nonces and writes, for the table checks."""
        tx_height, parties = self.tx_height, self.parties
        nonce_user, last_writer = self.nonce_user, self.last_writer
        for log_index, (envelope, result) in enumerate(zip(envelopes, results, strict=True),
                                                       start=first):
            tx_id, body = envelope.tx_id, envelope.body
            tx_height[tx_id] = height
            parties[log_index] = (tx_id, parties_of(envelope, result))
            for signer in body.signers:
                nonce_user.setdefault((signer, body.nonce), tx_id)
            writer = (height, tx_id)
            for key, _ in result.encoded_writes or result.writes:
                last_writer[key] = writer
        valid = sum(1 for result in results if result.valid)
        stats = self.report.stats
        stats.txs += len(results)
        stats.valid_txs += valid
        stats.invalid_txs += len(results) - valid


def _parser(parsed: list[tuple[str, bytes] | None] | None) -> Callable[[Any], Envelope | None]:
    """Return the envelope parser for a batch whose transactions the verifier parsed ahead.

    The verifier ran `parse_envelope` on the very same batch bytes, in the
    same order, so its answer for the n-th transaction is this process's
    (with the id and leaf hash it computed); past the end of its answers
    (never, unless it read other bytes) parse here.
    """
    if parsed is None:
        return parse_or_none
    answers = iter(parsed)

    def parse(wire: Any) -> Envelope | None:
        answer: tuple[str, bytes] | bool | None = next(answers, False)
        if answer is False:
            return parse_or_none(wire)
        if not isinstance(answer, tuple):
            return None
        tx_id, leaf = answer
        return envelope_from_checked(wire, orjson.loads, tx_id=tx_id, leaf=leaf)
    return parse


def stored_envelopes(stored: StoredBlock) -> Iterator[Envelope]:
    """Yield the stored transactions that parse, in their stored log order."""
    rows = sorted(stored.txs, key=_log_order)
    for row in rows:
        data = row.get("envelope")
        try:
            envelope = parse_or_none(orjson.loads(data)) if isinstance(data, bytes) else None
        except orjson.JSONDecodeError:
            envelope = None
        if envelope is not None:
            yield envelope


def _log_order(row: dict[str, Any]) -> int:
    index = row.get("log_index")
    return index if isinstance(index, int) else -1


def _genesis_envelope(stored: StoredBlock) -> Envelope | None:
    for envelope in stored_envelopes(stored):
        if (envelope.body.contract, envelope.body.action) == ("registry", "genesis"):
            return envelope
    return None
