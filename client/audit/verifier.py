"""Signature verification ahead of re-execution, in a second process.

Re-execution is sequential; checking signatures is not.  The verifier
process reads each block line a little ahead of the re-executing process,
parses the batch's transactions with the full `parse_envelope` checks,
verifies every signature against every key the signer could have at that
point (its genesis key and any key a governance proposal names for it), and
verifies the batch signature and the block's attestations against the
genesis-registered nodes.
The re-executing process then looks up each (transaction, signature, key)
it needs: a hit is the verdict, a miss (a key the verifier did not
foresee) is verified there and then.  So results are exactly those of
verifying inline, and each verification is done once, on the other core.
"""

from __future__ import annotations

import binascii
import gc
import os
import pickle
import queue
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

try:
    import fcntl
except ImportError:  # not on this platform: pipes keep their size
    fcntl = None  # type: ignore[assignment]

from client.audit.digests import ROWS_LINE, StoredTables, TableSummary
from client.audit.source import StoredBlock, parse_line
from ledger.attestation import Attestation, NodeInfo
from ledger.batch import SignedBatch, is_signed, open_batch
from ledger.crypto import Domain, PublicKey
from ledger.errors import LedgerError
from ledger.tx import Envelope, Signature, parse_envelope

SigKey = tuple[str, bytes]  # (transaction id, signature)
AttKey = tuple[str, str, int, str, bytes]  # (chain, node id, height, header hash, signature)
LOOKAHEAD = 12  # blocks the verifier may run ahead
PIPE_BYTES = 4 << 20  # pipe size asked for (capped by the system's limit)
IOV_MAX = 1024  # buffers per writev call at most (Linux, macOS and BSDs take 1024)
WORKER_PROGRAM = ("import sys; from client.audit.verifier import serve; "
                  "serve(sys.stdin.buffer, sys.stdout.buffer)")


@dataclass
class Verdicts:
    """What the verifier learnt about one block line."""

    # per batch transaction: None if parse_envelope refused it, else the transaction id and
    # log leaf hash of the envelope it made (computed here, on this core)
    parsed: list[tuple[str, bytes] | None] | None = None
    signatures: dict[SigKey, dict[bytes, bool]] = field(default_factory=dict)
    attestations: dict[AttKey, dict[bytes, bool]] = field(default_factory=dict)
    # the batch signature of this very line: public key -> whether it verifies
    batch: dict[bytes, bool] = field(default_factory=dict)
    # ids of the stored transaction rows whose envelope and leaf_hash cells are exactly
    # those of the batch's first envelope with that id (the one a block takes)
    stored_as_batch: set[str] = field(default_factory=set)
    checked: int = 0  # signature verifications done

    def known(self, tx_id: str) -> Callable[[PublicKey, Signature], bool | None]:
        """Return the `known` lookup Envelope.verify takes, for transaction `tx_id`."""
        def lookup(key: PublicKey, sig: Signature) -> bool | None:
            return self.signatures.get((tx_id, sig.signature), {}).get(key.raw)
        return lookup

    def batch_verified(self, batch: SignedBatch, key: PublicKey) -> bool:
        """Say whether the verifier found this line's batch signed by `key` (for decode_batch)."""
        return self.batch.get(key.raw) is True

    def attestation(self, att: Attestation, key: PublicKey) -> bool | None:
        """Return the verdict on an attestation by `key`, or None if not verified ahead."""
        return self.attestations.get(
            (att.chain_id, att.node_id, att.height, att.header_hash, att.signature), {}
        ).get(key.raw)


class KeyBook:
    """Every key a member or node could sign with, as far as the lines read so far tell."""

    def __init__(self) -> None:
        self.members: dict[str, list[PublicKey]] = {}
        self.nodes: dict[str, NodeInfo] = {}
        self.chain_id = ""

    def learn_genesis(self, envelope: Envelope) -> None:
        """Take the founding members' keys and the registered nodes from the genesis."""
        self.chain_id = envelope.body.chain_id
        for member in _dicts(envelope.body.args.get("members")):
            self._add(member.get("uscc"), member.get("public_key"))
        for node in _dicts(envelope.body.args.get("nodes")):
            try:
                info = NodeInfo.from_json(node)
            except LedgerError:
                continue
            self.nodes[info.id] = info

    def learn_governance(self, envelope: Envelope) -> None:
        """Take the keys a governance proposal would give (it may or may not execute)."""
        change = envelope.body.args.get("change")
        if envelope.body.contract != "governance" or not isinstance(change, dict):
            return
        member = change.get("member")
        if isinstance(member, dict):
            self._add(member.get("uscc"), member.get("public_key"))
        self._add(change.get("uscc"), change.get("public_key"))

    def _add(self, uscc: Any, key: Any) -> None:
        if not isinstance(uscc, str) or not isinstance(key, str):
            return
        try:
            public = PublicKey.from_hex(key)
        except LedgerError:
            return
        keys = self.members.setdefault(uscc, [])
        if public not in keys:
            keys.append(public)


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def verdicts_for(raw: bytes, book: KeyBook) -> Verdicts:
    """Parse and verify what one block line holds; learn keys as they appear."""
    verdicts = Verdicts()
    record = parse_line(raw)
    if record is None or record.get("type") != "block":
        return verdicts
    block = StoredBlock.from_record(record)
    if block.claimed_height == 0 and not book.chain_id:
        _learn_from_genesis_row(block, book)
    if isinstance(block.batch, bytes):
        _stored_cells(block, _batch(block.batch, book, verdicts), verdicts)
    _attestations(block, book, verdicts)
    return verdicts


def _learn_from_genesis_row(block: StoredBlock, book: KeyBook) -> None:
    for row in block.txs:
        data = row.get("envelope")
        try:
            envelope = parse_envelope(orjson.loads(data)) if isinstance(data, bytes) else None
        except (orjson.JSONDecodeError, LedgerError):
            envelope = None
        if envelope is not None and envelope.body.contract == "registry":
            book.learn_genesis(envelope)


def _batch(data: bytes, book: KeyBook, verdicts: Verdicts) -> dict[str, Envelope]:
    """Parse and verify the batch's transactions; return the first envelope of each id."""
    first: dict[str, Envelope] = {}
    try:
        body = _signed_body(open_batch(data), book, verdicts) if is_signed(data) else data
        txs = orjson.loads(body)["txs"]
    except (LedgerError, orjson.JSONDecodeError, KeyError, TypeError):
        return first
    if not isinstance(txs, list):
        return first
    verdicts.parsed = []
    for wire in txs:
        try:
            envelope = parse_envelope(wire)
        except Exception:  # as the network drops it: anything unparseable
            verdicts.parsed.append(None)
            continue
        verdicts.parsed.append((envelope.tx_id, envelope.leaf))
        first.setdefault(envelope.tx_id, envelope)
        book.learn_governance(envelope)
        for sig in envelope.signatures:
            _signature(envelope, sig, book.members.get(sig.signer, []), verdicts)
    return first


def _stored_cells(block: StoredBlock, first: dict[str, Envelope], verdicts: Verdicts) -> None:
    """Note the stored rows whose envelope and leaf hash are the batch's, cell for cell.

    Each row is the one the block checks compare for its id (the last row
    stored with it); the re-executing process then need not rebuild those
    two cells for a transaction it took from this batch.
    """
    rows = {row_key(row.get("id") if isinstance(row, dict) else row): row
            for row in block.raw_txs}
    for tx_id, row in rows.items():
        envelope = first.get(tx_id) if type(tx_id) is str and type(row) is dict else None
        if envelope is not None and row.get("envelope") == _b64_cell(envelope.canonical()) \
                and row.get("leaf_hash") == _b64_cell(envelope.leaf):
            verdicts.stored_as_batch.add(tx_id)


def row_key(cell: Any) -> Any:
    """Key a stored row as the block checks do (client.audit.block_checks, which imports this)."""
    return cell if isinstance(cell, str | int | None) else repr(cell)


def _b64_cell(data: bytes) -> dict[str, str]:
    return {"b64": binascii.b2a_base64(data, newline=False).decode()}


def _signed_body(batch: SignedBatch, book: KeyBook, verdicts: Verdicts) -> bytes:
    """Verify the batch signature against the node it names, if a genesis node; return the body."""
    node = book.nodes.get(batch.node_id)
    if node is not None:
        try:
            batch.verify(node.public_key)
            verdicts.batch[node.public_key.raw] = True
        except LedgerError:
            verdicts.batch[node.public_key.raw] = False
        verdicts.checked += 1
    return batch.body


def _signature(envelope: Envelope, sig: Signature, keys: list[PublicKey],
               verdicts: Verdicts) -> None:
    found = verdicts.signatures.setdefault((envelope.tx_id, sig.signature), {})
    for key in keys:
        try:
            key.verify(Domain.TRANSACTION, envelope.body_bytes, sig.signature)
            found[key.raw] = True
        except LedgerError:
            found[key.raw] = False
        verdicts.checked += 1


def _attestations(block: StoredBlock, book: KeyBook, verdicts: Verdicts) -> None:
    for row in block.attestations:
        att = attestation_of(row, book.chain_id)
        node = None if att is None else book.nodes.get(att.node_id)
        if att is None or node is None:
            continue
        try:
            att.verify(node.public_key)
            ok = True
        except LedgerError:
            ok = False
        key = (att.chain_id, att.node_id, att.height, att.header_hash, att.signature)
        verdicts.attestations[key] = {node.public_key.raw: ok}
        verdicts.checked += 1


def attestation_of(row: dict[str, Any], chain_id: str) -> Attestation | None:
    """Return the attestation a stored row states, or None if a column has the wrong type."""
    height, node, header_hash, sig = (row.get(c) for c in
                                      ("height", "node_id", "header_hash", "signature"))
    if not (isinstance(height, int) and isinstance(node, str) and isinstance(header_hash, str)
            and isinstance(sig, bytes)) or isinstance(height, bool):
        return None
    return Attestation(chain_id, height, header_hash, node, sig)


class InlineVerifier:
    """No second process: every signature is verified where it is needed."""

    def submit(self, raw: bytes) -> None:
        """Accept a block line (nothing to do ahead)."""

    def next(self) -> Verdicts:
        """Return empty verdicts: everything is verified inline."""
        return Verdicts()

    def end(self) -> None:
        """No more lines (nothing to do)."""

    def close(self) -> None:
        """Nothing to release."""


class ProcessVerifier:
    """A verifier process (running `serve`) fed block lines over a pipe.

    A thread writes the lines, so the pipe to the process never blocks the
    re-executing thread; verdicts come back in order over the other pipe.
    If the process dies, the remaining blocks are verified inline (an empty
    verdict only means "verify it yourself").
    """

    def __init__(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-c", WORKER_PROGRAM], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": _package_root()})
        for pipe in (self._process.stdin, self._process.stdout):
            _widen(pipe)
        self._lines: queue.Queue[bytes | None] = queue.Queue()
        self._writer = threading.Thread(target=self._write, name="audit-verifier-feed",
                                        daemon=True)
        self._writer.start()
        self._pending = 0
        self._alive = True
        self._ended = False

    def submit(self, raw: bytes) -> None:
        """Hand the verifier the next block line."""
        self._lines.put(raw)
        self._pending += 1

    def submit_rows(self, raw: bytes) -> None:
        """Hand the verifier a rows line (ROWS_LINE) to sum up; `tables()` gives the result."""
        self._lines.put(raw)

    def tables(self) -> TableSummary | None:
        """Return the summary of the rows lines given, once `end()` was called (None: none).

        Call only when every block's verdicts were taken: the summary is the
        process's last answer.
        """
        if not self._alive:
            return None
        try:
            summary = _read_frame(self._process.stdout)
        except (OSError, EOFError, pickle.UnpicklingError, AttributeError):
            summary = None
        self._alive = False
        return summary if isinstance(summary, TableSummary) else None

    def next(self) -> Verdicts:
        """Return the verdicts for the oldest block line submitted."""
        self._pending -= 1
        if not self._alive:
            return Verdicts()
        try:
            verdicts = _read_frame(self._process.stdout)
        except (OSError, EOFError, pickle.UnpicklingError, AttributeError):
            verdicts = None
        if not isinstance(verdicts, Verdicts):
            self._alive = False
            return Verdicts()
        return verdicts

    def _write(self) -> None:
        """Write the queued lines as frames, all that are waiting in one system call.

        Between two writes this thread needs the interpreter lock, which the
        re-executing thread holds for up to the switch interval (5 ms): one
        write per line held the ~170 MB of rows lines back by a second.  So
        every line waiting is written at once (`os.writev`, the lock let go).
        """
        pipe = self._process.stdin
        assert pipe is not None
        try:
            raw: bytes | None = b""
            while raw is not None:
                waiting = [self._lines.get()]
                while not self._lines.empty():
                    waiting.append(self._lines.get_nowait())
                frames: list[bytes] = []
                for raw in waiting:
                    if raw is None:  # the end: the empty frame, and nothing after it
                        frames.append(bytes(8))
                        break
                    frames += (len(raw).to_bytes(8, "big"), raw)
                _write_all(pipe.fileno(), frames)
            pipe.close()
        except OSError:  # the process is gone; next() falls back to inline verification
            return

    def end(self) -> None:
        """Tell the process there are no more lines, so it finishes while this one goes on."""
        if not self._ended:
            self._ended = True
            self._lines.put(None)

    def close(self) -> None:
        """Stop the process."""
        self.end()
        self._writer.join(timeout=30)
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()


def _write_all(fd: int, buffers: list[bytes]) -> None:
    """Write every buffer to `fd`, in order, with as few system calls as can be."""
    if not hasattr(os, "writev"):  # not on this platform: one write each
        for buffer in buffers:
            view = memoryview(buffer)
            while view:
                view = view[os.write(fd, view):]
        return
    views = [memoryview(b) for b in buffers if b]
    while views:
        written = os.writev(fd, views[:IOV_MAX])
        while views and written >= len(views[0]):
            written -= len(views.pop(0))
        if written:
            views[0] = views[0][written:]


def _widen(pipe: IO[bytes] | None) -> None:
    """Let a pipe hold a whole block line (Linux), so the feeding thread writes it at once.

    A 64 KiB pipe takes a ~1 MB line in some sixteen writes, and between
    writes the feeding thread waits for the interpreter lock, which the
    re-executing thread holds for up to the switch interval: the verifier
    was fed late and fell behind.  Where the size cannot be set, nothing
    changes but speed.
    """
    setting = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl is not None else None
    if pipe is None or setting is None:
        return
    try:
        limit = int(Path("/proc/sys/fs/pipe-max-size").read_text())
        fcntl.fcntl(pipe.fileno(), setting, min(limit, PIPE_BYTES))
    except (OSError, ValueError):
        return


def _package_root() -> str:
    root = str(Path(__file__).resolve().parents[2])
    extra = os.environ.get("PYTHONPATH")
    return root if not extra else root + os.pathsep + extra


def _read_frame(pipe: IO[bytes] | None) -> Any:
    assert pipe is not None
    size = int.from_bytes(_exactly(pipe, 8), "big")
    return pickle.loads(_exactly(pipe, size)) if size else None


def _exactly(pipe: IO[bytes], size: int) -> bytes:
    data = pipe.read(size)
    if len(data) != size:
        raise EOFError("the verifier process ended")
    return data


def serve(source: IO[bytes], sink: IO[bytes]) -> None:
    """Run the verifier: read framed lines, write framed answers, until an empty frame.

    A block line is answered with its verdicts at once; a rows line is
    only taken in, and after the empty frame the summary of all the rows
    lines (a TableSummary, or None) is the last answer.  The cyclic garbage
    collector stays off: what a block line makes is freed by reference
    counting once its verdicts are sent, so collections would only scan
    objects about to go.
    """
    gc.disable()
    book = KeyBook()
    tables = StoredTables()
    while size := int.from_bytes(_exactly(source, 8), "big"):
        raw = _exactly(source, size)
        if raw.startswith(ROWS_LINE):
            tables.take(raw)
        else:
            _answer(sink, verdicts_for(raw, book))
    _answer(sink, tables.summary())


def _answer(sink: IO[bytes], answer: Verdicts | TableSummary | None) -> None:
    """Write one framed answer with raw system calls, not through `sink`'s buffer.

    A BufferedWriter writing a ~100 KB frame into a pipe lost bytes when
    the process was signalled meanwhile (a profiler's samples did it), and
    the answers stopped decoding (tests/client/audit/test_audit_channel.py).
    """
    data = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
    _write_all(sink.fileno(), [len(data).to_bytes(8, "big"), data])

