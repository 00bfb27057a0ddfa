"""The genesis: the document every node of a consortium starts from.

It names the chain, fixes the genesis time and carries the self-signed
founding transaction (members, roles, keys, policies).  Every node builds the
same block 0 from it (`genesis_block`), so the genesis block hash identifies
the consortium.  No node attests block 0, and none needs to: anyone holding
the file derives block 0 and its checkpoint (log size 1) alone, which is how
light clients and auditors trust height 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ledger.attestation import NodeInfo
from ledger.block import GENESIS_PREV_HASH, BlockHeader, TxResult, result_root, tx_root
from ledger.canonical import JSONValue
from ledger.checkpoint import Checkpoint, block_checkpoint
from ledger.crypto import PrivateKey
from ledger.errors import LedgerError, SchemaError
from ledger.execution import BlockContext, Executor, Overlay, ReplayGuard
from ledger.membership import Member
from ledger.merkle import leaf_hash
from ledger.state import StateCache
from ledger.timefmt import format_timestamp, parse_timestamp
from ledger.tx import Envelope, TxBody, parse_envelope, sign_body

GENESIS_PROPOSER = "genesis"
GENESIS_NONCE = "0" * 16


@dataclass(frozen=True)
class Genesis:
    """A consortium's founding document."""

    chain_id: str
    time: str
    transaction: Envelope

    def to_json(self) -> dict[str, JSONValue]:
        """Return the genesis file's JSON form."""
        return {"chain_id": self.chain_id, "time": self.time,
                "transaction": self.transaction.to_json()}

    @classmethod
    def from_json(cls, value: Any) -> Genesis:
        """Parse a genesis file; raise SchemaError if it is malformed or inconsistent."""
        if not isinstance(value, dict) or set(value) != {"chain_id", "time", "transaction"}:
            raise SchemaError("a genesis file has exactly chain_id, time and transaction")
        parse_timestamp(value["time"], what="genesis time")
        envelope = parse_envelope(value["transaction"])
        if envelope.body.chain_id != value["chain_id"]:
            raise SchemaError("the genesis transaction names another chain")
        if (envelope.body.contract, envelope.body.action) != ("registry", "genesis"):
            raise SchemaError("the genesis transaction must be registry.genesis")
        return cls(value["chain_id"], value["time"], envelope)


def make_genesis(
    chain_id: str, time: datetime, members: Mapping[str, tuple[Member, PrivateKey]],
    policies: Mapping[str, Any], nodes: Sequence[NodeInfo] = (),
    contracts_hash: str | None = None,
) -> Genesis:
    """Build and self-sign a genesis for `members` (uscc -> (member, key)) and their nodes.

    With `contracts_hash` (the SHA-256 of the contract code, see
    `contracts.code`), the genesis pins that code from block 0: nodes whose
    contract code differs refuse to run.
    """
    args: dict[str, Any] = {"members": [m.to_json() for m, _ in members.values()],
                            "policies": dict(policies)}
    if nodes:
        args["nodes"] = [n.to_json() for n in nodes]
    if contracts_hash is not None:
        args["contracts_hash"] = contracts_hash
    body = TxBody(
        chain_id=chain_id, contract="registry", action="genesis",
        args=args,
        signers=tuple(members), nonce=GENESIS_NONCE,
        not_before=format_timestamp(time), not_after=format_timestamp(time + timedelta(days=1)),
    )
    envelope = sign_body(body, {uscc: key for uscc, (_, key) in members.items()})
    return Genesis(chain_id, format_timestamp(time), envelope)


def genesis_header(genesis: Genesis, result: TxResult) -> BlockHeader:
    """Return block 0's header for `genesis`, given the genesis transaction's result."""
    return BlockHeader(
        chain_id=genesis.chain_id, height=0, prev_hash=GENESIS_PREV_HASH, position=0,
        proposer=GENESIS_PROPOSER, time=genesis.time, tx_count=1,
        tx_root=tx_root([genesis.transaction.canonical()]), result_root=result_root([result]),
        log_size=1,
    )


@dataclass(frozen=True)
class GenesisBlock:
    """Block 0 as a genesis determines it: its header, the founding result and its writes."""

    genesis: Genesis
    header: BlockHeader
    result: TxResult
    writes: Overlay  # the founding transaction's writes over the empty state

    def check_valid(self) -> None:
        """Raise LedgerError unless the founding transaction is valid (no chain starts else)."""
        if not self.result.valid:
            raise LedgerError(f"the genesis transaction is invalid: {self.result.reason}")

    def checkpoint(self) -> Checkpoint:
        """Return block 0's checkpoint: a log of the founding transaction alone, and block 0.

        The root of a one-leaf RFC 9162 tree is that leaf's hash.
        """
        return block_checkpoint(self.genesis.chain_id, 1,
                                leaf_hash(self.genesis.transaction.canonical()), 0,
                                self.header.hash())


def genesis_block(genesis: Genesis, executor: Executor) -> GenesisBlock:
    """Execute the founding transaction on the empty state as block 0; return that block.

    `executor` runs the consortium's contracts (contracts.CONTRACTS), which
    this layer cannot name.  Never raises for an invalid founding
    transaction: its result says so, and `check_valid` refuses it.
    """
    block = BlockContext(genesis.chain_id, 0, genesis.time)
    results, writes = executor.execute_block([genesis.transaction], state=StateCache(),
                                             block=block, replay=ReplayGuard())
    return GenesisBlock(genesis, genesis_header(genesis, results[0]), results[0], writes)
