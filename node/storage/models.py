"""SQLModel tables: the node's durable copy of the chain and its query indexes.

Exact bytes (envelopes, headers, state values) are kept as they were
hashed and signed, so whatever a node serves can be checked without
re-serialising.  The large ones (`PACKED_COLUMNS`) are stored packed
(ledger/blob_codec.py) and unpacked on every read and on export, so only
the cell is smaller; the ids of transactions, notes and records are stored
as their bytes (node/storage/hex_ids.py) and read as hex.  The same tables
work on SQLite and PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, LargeBinary
from sqlmodel import Field, SQLModel

from node.storage.hex_ids import HexId, id_columns

# table -> columns whose cells are packed blobs (older rows may be stored unpacked)
PACKED_COLUMNS = {"transactions": ("envelope", "events"), "state": ("value",)}


class BlockRow(SQLModel, table=True):
    """One block header, by height."""

    __tablename__ = "blocks"

    height: int = Field(primary_key=True)
    hash: str = Field(index=True, unique=True)
    position: int
    time: str
    tx_count: int
    header: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class BatchRow(SQLModel, table=True):
    """The exact ordered batch a block was made from (the genesis block has none).

    Kept so that anyone holding the chain can check the batch signature and
    derive the block again from exactly what was ordered.  A separate table
    (not a column of `blocks`) so that databases from before batches were
    kept gain it without a migration; their old blocks simply have no row.
    The batch's transactions are not kept twice: `data` is the batch with
    the wire of each stored transaction cut out and `refs` says where each
    goes back (ledger/batch_pack.py).  A NULL `refs` (rows written before
    packing, until the node migrates them at start) means `data` is whole.
    """

    __tablename__ = "block_batches"

    height: int = Field(primary_key=True)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    refs: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))


class PendingRow(SQLModel, table=True):
    """A transaction this node acknowledged as accepted whose block has not committed yet.

    Written before the node answers a submission, deleted in the database
    transaction that commits the block holding it; whatever is left when the
    node starts is offered to the orderer again.  `seq` keeps the order of
    acceptance, so a submission whose transactions build on each other is
    offered in its own order.  The envelope is the exact canonical wire form.
    """

    __tablename__ = "pending_envelopes"

    tx_id: str = Field(primary_key=True)
    seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    envelope: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class TxRow(SQLModel, table=True):
    """One ordered transaction with its validity, in log order.

    Keyed by log index, which on SQLite is then the rowid: no index of its
    own (databases made before, keyed by id, are rebuilt once at start).
    `envelope` and `events` are stored packed; a TxRow the store returns
    holds them unpacked.
    """

    __tablename__ = "transactions"
    # a unique index of its own, not a UNIQUE constraint, so a restore can build it after the
    # rows in one sorted pass (databases made before keep the constraint, which works the same)
    __table_args__ = (Index("ix_transactions_id", "id", unique=True),)

    id: str = Field(sa_column=Column(HexId, nullable=False))
    height: int = Field(index=True)
    position: int
    log_index: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    contract: str
    action: str
    valid: bool
    code: str
    reason: str
    envelope: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    leaf_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    events: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class NonceRow(SQLModel, table=True):
    """A (signer, nonce) pair that has been used, for replay protection.

    Without a rowid on SQLite: the key is the whole row, so the table is its
    own index (databases made before keep their rowid table, which works the same).
    """

    __tablename__ = "nonces"
    __table_args__ = ({"sqlite_with_rowid": False},)

    signer: str = Field(primary_key=True)
    nonce: str = Field(primary_key=True)


class StateRow(SQLModel, table=True):
    """The current value of one world-state key (canonical JSON bytes, stored packed).

    Without a rowid on SQLite: the key is stored once, in the table, not
    again in an index of its own (the store rebuilds an older database's table once).
    """

    __tablename__ = "state"
    __table_args__ = ({"sqlite_with_rowid": False},)

    key: str = Field(primary_key=True)
    height: int
    value: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class NoteRow(SQLModel, table=True):
    """Query index over notes (current and historical), derived from state writes."""

    __tablename__ = "notes"
    __table_args__ = (Index("ix_notes_holder_status", "holder", "status"),)

    id: str = Field(sa_column=Column(HexId, primary_key=True))
    root_id: str = Field(sa_column=Column(HexId, nullable=False, index=True))
    parent_id: str | None = Field(default=None, sa_column=Column(HexId, nullable=True))
    holder: str
    issuer: str = Field(index=True)
    amount: int
    currency: str
    status: str
    maturity_date: str
    financed: bool
    frozen: bool
    height: int


class PartyRow(SQLModel, table=True):
    """Which transactions each organisation is party to, in log order (its event feed).

    Keyed by the transaction's log index alone (its id is in `transactions`),
    and on SQLite without a rowid: the key is the row.  The parties of one
    transaction are read from its row (signers and events), so there is no
    index by log index.  Databases made before had a `tx_id` column, or that
    index; the store rebuilds the table, or drops the index, once at start.
    """

    __tablename__ = "tx_parties"
    __table_args__ = ({"sqlite_with_rowid": False},)

    uscc: str = Field(primary_key=True)
    log_index: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})


class AttestationRow(SQLModel, table=True):
    """A node's signed statement of the header hash it computed for one block."""

    __tablename__ = "attestations"

    height: int = Field(primary_key=True)
    node_id: str = Field(primary_key=True)
    header_hash: str
    signature: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    # the node's cosignature of the block's checkpoint note; None from nodes that sent none
    note_signature: bytes | None = Field(default=None,
                                         sa_column=Column(LargeBinary, nullable=True))
    # the node's cosignature of the block's state note (ledger/state_note.py); None if none sent
    state_signature: bytes | None = Field(default=None,
                                          sa_column=Column(LargeBinary, nullable=True))


class RecordRow(SQLModel, table=True):
    """Query index over credentials, financings and credit lines, derived from state writes.

    One row per record (`kind` is receivable, financing or credit_line):
    its status, its two parties (receivable: issuer, first holder;
    financing: seller, bank; credit line: bank, core) and the date lists
    sort and filter by (a credential's maturity, the financed note's
    maturity, a credit line's expiry).  A credit line's status is always
    `open`: whether it has expired depends on the day it is asked.
    """

    __tablename__ = "records"
    __table_args__ = (Index("ix_records_kind_party_a", "kind", "party_a"),
                      Index("ix_records_kind_party_b", "kind", "party_b"),
                      Index("ix_records_kind_status", "kind", "status"))

    id: str = Field(sa_column=Column(HexId, primary_key=True))
    kind: str
    status: str
    party_a: str
    party_b: str
    date: str | None = None
    height: int


class StateDigestRow(SQLModel, table=True):
    """The state digest after a block (ledger/state_digest.py), 32 bytes, by height.

    Written with the block; a database from before digests were kept has
    none for its older blocks.
    """

    __tablename__ = "state_digests"

    height: int = Field(primary_key=True)
    digest: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class StateAccumulatorRow(SQLModel, table=True):
    """The state digest's running product at the head (one row), so a restart does not rescan.

    `value` is the normalised MuHash3072 number, 384 bytes little-endian;
    its SHA-256 is the digest of `height`.
    """

    __tablename__ = "state_accumulator"

    id: int = Field(primary_key=True)  # always 1
    height: int
    value: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class LogSubtreeRow(SQLModel, table=True):
    """The hash of one perfect subtree of the global log, of 2**8 leaves or more.

    With the leaf hashes kept per transaction, these let a node give the
    log's roots and proofs with only the log's frontier in memory
    (ledger.compact_log): any subtree is read here or hashed again from at
    most 256 leaves.  About 2 rows per 256 transactions.
    """

    __tablename__ = "log_subtrees"

    level: int = Field(primary_key=True)
    idx: int = Field(primary_key=True)
    hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


# table -> columns whose ids are stored as bytes (node/storage/hex_ids.py; older rows as text)
ID_COLUMNS = {table.name: tuple(id_columns(table)) for table in SQLModel.metadata.sorted_tables
              if id_columns(table)}
