"""A realistic chain built in-process with the node's own Chain, for benchmarks and audits.

`build_sample_chain` writes into a node database what a network node would
have after months of business: a consortium with two registered nodes (so
batches are signed and every block carries a finality certificate), a
credit line, then rounds of credentials that go through their whole life
(issue, accept, split, pay on, financing request, terms, acceptance,
disbursement) and at maturity are paid (most in full, some in part), a
membership change by governance (a re-key and a new member), and the odd
transaction the rules refuse or drop (a double spend, a forged signature, a
duplicate, garbage).  Every block is made by `Chain.apply_batch` from a
signed batch, exactly as the committer makes it, so the database is a
faithful sample of a real node's.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson

from contracts import CONTRACTS
from contracts.code import code_hash
from contracts.receivable.commands import OfferTerms
from contracts.receivable.financing import priced_terms, terms_hash
from contracts.records import derived_id
from ledger.attestation import NodeInfo, attest
from ledger.batch import sign_batch
from ledger.checkpoint import sign_checkpoint
from ledger.crypto import PrivateKey
from ledger.execution import Executor
from ledger.genesis import Genesis, make_genesis
from ledger.membership import Member, Role, make_uscc
from ledger.state_note import sign_state_note
from ledger.timefmt import format_timestamp
from ledger.tx import Envelope, TxBody, sign_body
from node.config import DEFAULT_SQLITE_CACHE_MIB
from node.finality.checkpoints import checkpoint_of
from node.finality.state_notes import state_note_of
from node.ordering import OrderedBatch
from node.pipeline.chain import Chain
from node.storage.store import Store, StoredAttestation

SAMPLE_CHAIN_ID = "sample-receivables"
SAMPLE_START = datetime(2026, 1, 5, 9, 0, 0, tzinfo=UTC)
SUPPLIERS = 12
FACE = 1_000_000  # 10,000.00 CNY per credential
SECOND_PIECE, THIRD_PIECE = 600_000, 400_000  # what the holder pays on, and the second tier
MATURITY_DAYS = 90
LANE_TXS = 9  # issue, accept, split, pay on, request, offer, accept terms, disburse, pay
NODES = (("node1", "core"), ("node2", "bank_a"))
POLICIES = {"governance_approval_percent": 1, "max_children": 20}


def _key(seed: int, name: str) -> PrivateKey:
    return PrivateKey(hashlib.sha256(f"sample chain {seed}: {name}".encode()).digest())


@dataclass(frozen=True)
class SampleOrg:
    """One organisation of the sample consortium."""

    alias: str
    uscc: str
    role: Role
    key: PrivateKey

    def member(self) -> Member:
        """Return its membership record."""
        return Member(self.uscc, self.alias, frozenset({self.role}), self.key.public_key)


def sample_orgs(seed: int = 0) -> dict[str, SampleOrg]:
    """Return the cast: core, suppliers s0..s11, two banks, an auditor and a later newcomer."""
    cast = [("core", Role.CORE_ENTERPRISE)] + [(f"s{i}", Role.SUPPLIER) for i in range(SUPPLIERS)]
    cast += [("bank_a", Role.BANK), ("bank_b", Role.BANK), ("auditor", Role.AUDITOR),
             ("newcomer", Role.SUPPLIER)]
    return {alias: SampleOrg(alias, make_uscc(f"91440300MA{index:07d}"), role, _key(seed, alias))
            for index, (alias, role) in enumerate(cast, start=1)}


def rekeyed_s3(seed: int = 0) -> PrivateKey:
    """Return supplier s3's key after the sample's governance re-keys it."""
    return _key(seed, "s3 re-keyed")


def current_keys(seed: int = 0) -> dict[str, PrivateKey]:
    """Return each organisation's signing key (by alias) once a sample chain is built."""
    return {alias: rekeyed_s3(seed) if alias == "s3" else org.key
            for alias, org in sample_orgs(seed).items()}


def load_core(seed: int = 0) -> SampleOrg:
    """Return a core enterprise the sample chain lacks, to issue on top of it.

    The sample's core pays every seventh credential only in part, so once
    they are overdue it may issue no more: new business needs another core.
    """
    return SampleOrg("core2", make_uscc("91440300MA0000090"), Role.CORE_ENTERPRISE,
                     _key(seed, "core2"))


def sample_node_keys(seed: int = 0) -> dict[str, PrivateKey]:
    """Return the attestation (and batch-signing) keys of the sample's two nodes."""
    return {node: _key(seed, node) for node, _ in NODES}


def sample_genesis(seed: int = 0) -> Genesis:
    """Return the sample consortium's genesis: its members, two nodes, the contract code pin."""
    orgs, keys = sample_orgs(seed), sample_node_keys(seed)
    nodes = [NodeInfo(node, orgs[org].uscc, keys[node].public_key) for node, org in NODES]
    founders = {o.uscc: (o.member(), o.key) for a, o in orgs.items() if a != "newcomer"}
    return make_genesis(SAMPLE_CHAIN_ID, SAMPLE_START, founders, POLICIES, nodes,
                        contracts_hash=code_hash())


@dataclass(frozen=True)
class SampleChain:
    """What was built: where, how big, and how long it took."""

    database_url: str
    genesis: Genesis
    height: int
    log_size: int
    seconds: float
    node_keys: Mapping[str, PrivateKey] = field(repr=False)


@dataclass
class _Lane:
    """One credential on its way through the stages."""

    holder: str
    second: str
    third: str
    bank: str
    serial: int
    root: str = ""
    note: str = ""
    financing: str = ""


class SampleBuilder:
    """Feeds signed batches to a real Chain over a node database, block by block."""

    def __init__(self, database_url: str, *, seed: int = 0, attest_blocks: bool = True,
                 sqlite_cache_mib: int = DEFAULT_SQLITE_CACHE_MIB) -> None:
        self.seed = seed
        self.orgs = sample_orgs(seed)
        self.node_keys = sample_node_keys(seed)
        self.genesis = sample_genesis(seed)
        self.store = Store(database_url, sqlite_cache_mib=sqlite_cache_mib)
        self.chain = Chain(self.store, self.genesis, Executor(CONTRACTS))
        self.attest_blocks = attest_blocks
        self.now = SAMPLE_START + timedelta(minutes=1)
        self.keys = {o.uscc: o.key for o in self.orgs.values()}
        self._nonces = itertools.count(1)

    def close(self) -> None:
        """Release the database."""
        self.store.close()

    def uscc(self, alias: str) -> str:
        """Return the USCC of `alias`."""
        return self.orgs[alias].uscc

    def tx(self, signers: Sequence[str], contract: str, action: str,
           args: Mapping[str, Any]) -> Envelope:
        """Sign a transaction by the named organisations, valid around the current block."""
        body = TxBody(
            chain_id=SAMPLE_CHAIN_ID, contract=contract, action=action, args=dict(args),
            signers=tuple(self.uscc(s) for s in signers),
            nonce=f"{self.seed:08x}{next(self._nonces):016x}",
            not_before=format_timestamp(self.now - timedelta(hours=1)),
            not_after=format_timestamp(self.now + timedelta(days=1)),
        )
        return sign_body(body, {u: self.keys[u] for u in body.signers})

    def block(self, wires: Sequence[Any], proposer: str = "node1") -> None:
        """Order one signed batch of wire transactions and commit it as the next block."""
        data = orjson.dumps({"chain_id": SAMPLE_CHAIN_ID, "proposer": proposer,
                             "time": format_timestamp(self.now), "txs": list(wires)})
        signed = sign_batch(data, proposer, self.node_keys[proposer]).encode()
        position = self.chain.head.position + 3  # etcd revisions: increasing, with gaps
        self.chain.apply_batch(OrderedBatch(position, signed))
        head = self.chain.head
        if self.attest_blocks:
            checkpoint = checkpoint_of(self.chain, head)
            state = state_note_of(self.store, SAMPLE_CHAIN_ID, head)
            assert state is not None
            self.store.add_attestations([
                StoredAttestation(
                    head.height, node, head.hash(),
                    attest(key, SAMPLE_CHAIN_ID, head.height, head.hash(), node).signature,
                    sign_checkpoint(checkpoint, node, key).signature,
                    sign_state_note(state, node, key).signature)
                for node, key in self.node_keys.items()])
        self.now += timedelta(seconds=2)

    def send(self, envelopes: Sequence[Envelope], extra: Sequence[Any] = (),
             proposer: str = "node1") -> None:
        """Commit `envelopes` (and any `extra` raw wire items) as one block."""
        self.block([e.to_json() for e in envelopes] + list(extra), proposer)


def _credit_line(b: SampleBuilder) -> str:
    envelope = b.tx(["bank_a", "core"], "receivable", "grant_credit_line", {
        "bank": b.uscc("bank_a"), "core": b.uscc("core"), "limit": 9_000_000_000_000_000,
        "currency": "CNY", "expiry_date": (SAMPLE_START + timedelta(days=360)).date().isoformat()})
    b.send([envelope])
    return derived_id(envelope.tx_id, 0, "credit_line")


def _governance(b: SampleBuilder) -> None:
    """Re-key supplier s3 and admit the newcomer (the policy lets a proposer decide alone)."""
    rekeyed = rekeyed_s3(b.seed)
    b.send([b.tx(["core"], "governance", "propose", {"change": {
                "kind": "rekey_member", "uscc": b.uscc("s3"),
                "public_key": rekeyed.public_key.hex()}}),
            b.tx(["core"], "governance", "propose", {"change": {
                "kind": "add_member", "member": b.orgs["newcomer"].member().to_json()}})])
    b.keys[b.uscc("s3")] = rekeyed


def _lanes(b: SampleBuilder, count: int, round_no: int) -> list[_Lane]:
    people = [f"s{i}" for i in range(SUPPLIERS)] + ["newcomer"]
    lanes = []
    for index in range(count):
        pick = (round_no * 5 + index) % len(people)
        lanes.append(_Lane(people[pick], people[(pick + 1) % len(people)],
                           people[(pick + 2) % len(people)],
                           "bank_a" if index % 2 else "bank_b", index))
    return lanes


def _stage(b: SampleBuilder, lanes: list[_Lane], who: str, action: str,
           args: Any, extra: Sequence[Any] = ()) -> list[Envelope]:
    """Commit one block in which each lane's `who` (a lane role, or an alias) does `action`."""
    envelopes = [b.tx([getattr(lane, who, who)], "receivable", action, args(lane))
                 for lane in lanes]
    b.send(envelopes, extra)
    return envelopes


def _round(b: SampleBuilder, line: str, lanes: list[_Lane], round_no: int) -> list[_Lane]:
    """Take each lane's credential from issuance to disbursement (eight blocks)."""
    maturity = (SAMPLE_START + timedelta(days=MATURITY_DAYS)).date().isoformat()
    issued = _stage(b, lanes, "core", "issue", lambda ln: {
        "credit_line": line, "to": b.uscc(ln.holder), "amount": FACE, "currency": "CNY",
        "maturity_date": maturity, "trade": {
            "contract_no": f"PO-{round_no}", "documents": [], "invoices": [{
                "seller": b.uscc(ln.holder), "number": f"INV-{round_no}-{ln.serial}",
                "amount": FACE, "allocated": FACE}]}})
    for lane, envelope in zip(lanes, issued, strict=True):
        lane.root = lane.note = derived_id(envelope.tx_id, 0)
    _stage(b, lanes, "holder", "accept", lambda ln: {"receivable": ln.root})
    for payer, payee, amount in (("holder", "second", SECOND_PIECE),
                                 ("second", "third", THIRD_PIECE)):
        moved = _stage(b, lanes, payer, "transfer", lambda ln, p=payee, a=amount: {
            "note": ln.note, "payments": [{"to": b.uscc(getattr(ln, p)), "amount": a}]})
        spent = [b.tx([lanes[0].holder if payer == "holder" else lanes[0].second], "receivable",
                      "transfer", {"note": lanes[0].note, "payments": [
                          {"to": b.uscc(lanes[0].third), "amount": 100_000}]})]
        for lane, envelope in zip(lanes, moved, strict=True):
            lane.note = derived_id(envelope.tx_id, 0)
        b.send(spent)  # a double spend of the note just paid on: recorded invalid
    requested = _stage(b, lanes, "third", "request_financing",
                       lambda ln: {"note": ln.note, "bank": b.uscc(ln.bank)})
    for lane, envelope in zip(lanes, requested, strict=True):
        lane.financing = derived_id(envelope.tx_id, 0, "financing")
    today = b.now.date()
    _stage(b, lanes, "bank", "offer_terms", lambda ln: {
        "financing": ln.financing, "annual_rate_percent": "2.50",
        "funding_date": today.isoformat(), "fees": 0, "fee_payer": "seller", "recourse": False})
    accepted = {ln.financing: _offered_hash(ln.financing, today) for ln in lanes}
    forged = b.tx([lanes[0].third], "receivable", "accept_terms",
                  {"financing": "0" * 64, "terms_hash": "0" * 64})
    forged_wire = {"body": forged.to_json()["body"],
                   "signatures": [{"signer": b.uscc(lanes[0].third), "sig": "A" * 86 + "=="}]}
    _stage(b, lanes, "third", "accept_terms",
           lambda ln: {"financing": ln.financing, "terms_hash": accepted[ln.financing]},
           extra=[forged_wire, {"body": "not a transaction"}, issued[0].to_json()])
    _stage(b, lanes, "bank", "confirm_disbursement", lambda ln: {
        "financing": ln.financing, "payment_ref": f"PAY-{ln.financing[:16]}"})
    return lanes


def _offered_hash(financing: str, funding: date) -> str:
    """Return the hash of the terms the sample banks offer on a third-tier piece."""
    offer = OfferTerms(financing, "2.50", funding, 0, "seller", False, None, False)
    maturity = (SAMPLE_START + timedelta(days=MATURITY_DAYS)).date()
    return terms_hash(priced_terms(offer, face=THIRD_PIECE, maturity=maturity))


def _settle(b: SampleBuilder, lanes: list[_Lane], batch: int) -> None:
    """At maturity the core pays every credential: in full, or every seventh in part."""
    b.now = max(b.now, SAMPLE_START + timedelta(days=90, hours=1))
    for start in range(0, len(lanes), batch):
        chunk = lanes[start:start + batch]
        b.send([b.tx(["core"], "receivable", "pay", {
            "receivable": lane.root, "amount": FACE // 2 if (start + i) % 7 == 3 else FACE,
            "payment_ref": f"SETTLE-{lane.root[:12]}"}) for i, lane in enumerate(chunk)],
            proposer="node2")


def build_sample_chain(database_url: str, *, transactions: int, lanes: int = 400,
                       seed: int = 0, attest_blocks: bool = True,
                       then: Callable[[SampleBuilder, str], None] | None = None) -> SampleChain:
    """Build a chain of about `transactions` transactions into an empty node database.

    `lanes` credentials move together, one block per stage, so blocks hold
    about `lanes` transactions.  `then(builder, credit_line)`, if given, adds
    blocks of its own at the end.  Returns what was built.
    """
    started = time.perf_counter()
    b = SampleBuilder(database_url, seed=seed, attest_blocks=attest_blocks)
    try:
        line = _credit_line(b)
        _governance(b)
        rounds = max(1, round((transactions - 3) / (lanes * LANE_TXS + 3)))
        done: list[_Lane] = []
        for round_no in range(rounds):
            done += _round(b, line, _lanes(b, lanes, round_no), round_no)
        _settle(b, done, lanes)
        if then is not None:
            then(b, line)
        head = b.chain.head
        return SampleChain(database_url, b.genesis, head.height, head.log_size,
                           time.perf_counter() - started, dict(b.node_keys))
    finally:
        b.close()
