"""The audit engine: reads a chain file's lines once, in order, and checks everything.

Block lines go to the verifier (a second process on long chains) and, a few
blocks later, to re-derivation and the block checks; table lines are
compared with the rebuilt state once every block is done; the last line's
counts show whether the file was cut short.  Nothing that is read can crash
the audit: a line, a row or a value that is not what it should be is a
finding, and a block that cannot be checked at all says so.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from client.audit.block_checks import (
    Certificates,
    check_link,
    compare_header,
    compare_txs,
    stored_header,
)
from client.audit.digests import ROWS_LINE
from client.audit.replay import CannotRebuild, Derived, Replay
from client.audit.report import AuditReport
from client.audit.shape import FileShape
from client.audit.source import StoredBlock, parse_line, rows_of
from client.audit.state_digests import DIGEST_ROWS_LINES, StateDigestChecks
from client.audit.tables import TableChecks
from client.audit.verifier import (
    LOOKAHEAD,
    InlineVerifier,
    ProcessVerifier,
    Verdicts,
)
from ledger.block import BlockHeader

log = logging.getLogger(__name__)
Progress = Callable[[int, int], None]
PARALLEL_MIN_TXS = 10_000  # below this, starting a verifier process costs more than it saves


BLOCK_LINE = b'{"type":"block",'  # how the exporter starts a block line


@dataclass(frozen=True)
class _Pending:
    """A line waiting its turn: the raw line, its number, its record if parsed.

    A block line, or (`rows`) a rows line the verifier process sums up.
    """

    raw: bytes
    number: int
    record: dict[str, Any] | None
    rows: bool = False


@dataclass(frozen=True)
class _Kept:
    """A rows line the verifier process summed up, kept in case it must be checked here.

    With where it stands in the one-process order of the checks: how many
    findings came before it, and whether the audit had stopped by then.
    """

    raw: bytes
    number: int
    findings_before: int
    stopped: bool


class Engine:
    """One pass over a chain file's lines."""

    def __init__(self, report: AuditReport, *, parallel: bool | None = None,
                 progress: Progress | None = None) -> None:
        self.report = report
        self.replay = Replay(report)
        self.tables = TableChecks(report, self.replay)
        self.certificates = Certificates(report, self.replay)
        self.state_digests = StateDigestChecks(report)
        self.parallel = parallel
        self.progress = progress
        self.verifier: InlineVerifier | ProcessVerifier | None = None
        self.pending: deque[_Pending] = deque()
        self.blocks_pending = 0
        self.kept: list[_Kept] = []
        self.rows_parsed = False  # a rows line was parsed here, as it came
        self.previous: BlockHeader | None = None
        self.shape = FileShape(report)
        self.stopped = False

    def run(self, lines: Iterator[bytes]) -> None:
        """Check every line, then everything that needs the whole chain."""
        try:
            for raw in lines:
                self._line(raw)
            self._drain()
            if self.verifier is not None:
                self.verifier.end()  # it exits while the tables are checked
            self._finish()
        finally:
            if self.verifier is not None:
                self.verifier.close()

    def _line(self, raw: bytes) -> None:
        self.shape.lines += 1
        if raw.startswith(BLOCK_LINE):  # parsed when its turn comes (see _queue)
            self._queue(_Pending(raw, self.shape.lines, None))
            return
        if raw.startswith(DIGEST_ROWS_LINES):  # compared at the end, never by the verifier
            self._digest_rows(raw)
            return
        rows = raw.startswith(ROWS_LINE)  # whatever else it says (as the verifier takes it)
        if rows and isinstance(self.verifier, ProcessVerifier) and not self.rows_parsed:
            self._hand_over(raw)
            return
        record = parse_line(raw)
        if record is None:
            self._drain()  # its finding follows those of the blocks before it
            self.report.find("source", f"line {self.shape.lines} is not a JSON object")
            return
        if record.get("type") == "block" and not rows:
            self._queue(_Pending(raw, self.shape.lines, record))
            return
        self._drain()
        self._other(record)

    def _digest_rows(self, raw: bytes) -> None:
        record = parse_line(raw)
        if record is None:
            self.report.find("source", f"line {self.shape.lines} is not a JSON object")
            return
        self.state_digests.take(str(record.get("table")), record.get("rows"))

    def _queue(self, line: _Pending) -> None:
        """Hand a block line to the verifier now, and check the oldest one waiting.

        Lines wait as bytes and are parsed only when checked: a dozen parsed
        ~1 MB block lines held at once cost far more to build than one at a
        time (measured: about twice the parsing time).
        """
        verifier = self._verifier()
        verifier.submit(line.raw)
        self.pending.append(line)
        self.blocks_pending += 1
        while self.blocks_pending > LOOKAHEAD:
            self._take_oldest()

    def _hand_over(self, raw: bytes) -> None:
        """Give a rows line to the verifier process to sum up; keep it for its turn.

        It does not count as a block waiting, so the following lines are read
        (and handed over) at once, and the verifier sums the tables up while
        the last blocks are checked here.
        """
        assert isinstance(self.verifier, ProcessVerifier)
        self.verifier.submit_rows(raw)
        self.pending.append(_Pending(raw, self.shape.lines, None, rows=True))

    def _take_oldest(self) -> None:
        line = self.pending.popleft()
        if line.rows:  # its turn: where its findings would go, were it checked here
            self.kept.append(_Kept(line.raw, line.number, len(self.report.findings),
                                   self.stopped))
            return
        assert self.verifier is not None
        self.blocks_pending -= 1
        self._take(line, self.verifier.next())

    def _take(self, line: _Pending, verdicts: Verdicts) -> None:
        record = line.record if line.record is not None else parse_line(line.raw)
        if record is None:
            self.report.find("source", f"line {line.number} is not a JSON object")
        elif record.get("type") != "block":  # it only looked like one
            self._other(record)
        else:
            self.shape.block(record)
            self._block(StoredBlock.from_record(record), verdicts)

    def _verifier(self) -> InlineVerifier | ProcessVerifier:
        if self.verifier is None:
            size = (self.shape.meta or {}).get("log_size")
            big = isinstance(size, int) and size >= PARALLEL_MIN_TXS
            use = self.parallel if self.parallel is not None else big
            self.verifier = ProcessVerifier() if use else InlineVerifier()
        return self.verifier

    def _drain(self) -> None:
        while self.pending:
            self._take_oldest()

    def _block(self, stored: StoredBlock, verdicts: Verdicts) -> None:
        if self.stopped:
            return
        height = len(self.replay.hashes)
        if stored.claimed_height != height:
            self.report.find("link", f"block {height} was expected next; the stored block row "
                             f"says height {stored.row.get('height')!r}", block=height)
        try:
            self._check_block(stored, verdicts, height)
        except CannotRebuild as exc:
            self.report.find("source", f"the chain cannot be rebuilt: {exc}", block=height)
            self.stopped = True
        except Exception as exc:  # a check tripped on data it did not foresee: say so, go on
            log.exception("auditing block %d failed", height)
            self.report.find("source", f"the audit could not check this block "
                             f"({type(exc).__name__}: {exc})"[:300], block=height)
            self.stopped = len(self.replay.hashes) <= height
        self.report.stats.blocks += 1
        if self.progress is not None:
            total = (self.shape.meta or {}).get("log_size")
            self.progress(self.report.stats.txs, total if isinstance(total, int) else 0)

    def _check_block(self, stored: StoredBlock, verdicts: Verdicts, height: int) -> None:
        header = stored_header(self.report, stored, height)
        check_link(self.report, self.previous, header, height)
        derived: Derived = (self.replay.genesis(stored, header) if height == 0
                            else self.replay.next_block(stored, header, verdicts))
        compare_header(self.report, derived, header)
        compare_txs(self.report, stored, derived, verdicts)
        self.certificates.check(stored, derived, verdicts)
        self.previous = header if header is not None else derived.header

    def _other(self, record: dict[str, Any]) -> None:
        kind = record.get("type")
        if kind in ("rows", "orphans"):
            self.shape.table_rows(str(record.get("table")), record.get("rows"))
        if kind == "meta":
            self.shape.header(record)
        elif kind == "rows" and not self.stopped:
            self.rows_parsed = True
            self._rows(record)
        elif kind == "orphans":
            self.tables.orphans(str(record.get("table")), rows_of(record))
        elif kind == "end":
            self.shape.end = record
        elif kind != "rows":
            self.report.find("source", f"line {self.shape.lines} has unknown type {kind!r}"[:200])

    def _check_tables(self) -> None:
        """Check the stored tables: by the verifier's digests where it can, else row by row.

        The rebuilt chain's digests and conservation are worked out here
        while the verifier process sums up the rows lines it was given; if
        their digests agree, the row-by-row checks would find nothing.
        Otherwise the kept lines are checked here as if they had been as
        they came, their findings put where they would have been.
        """
        verifier = self.verifier
        if self.stopped or not self.kept or self.rows_parsed \
                or not isinstance(verifier, ProcessVerifier):
            self._check_kept()
            if not self.stopped:
                self.tables.finish(split=isinstance(verifier, ProcessVerifier))
            return
        rebuilt = self.tables.rebuilt_digests()
        conservation = self.tables.conservation()
        summary = verifier.tables()
        if self.tables.vouched(summary, rebuilt):
            assert summary is not None
            self.shape.rows.update(summary.counts)
            self.report.findings += conservation
            return
        self._check_kept()
        self.tables.finish(split=True, conservation=conservation)

    def _check_kept(self) -> None:
        """Check the kept rows lines here, each as if it had been checked as it came."""
        findings, shift, lines, stopped = self.report.findings, 0, self.shape.lines, self.stopped
        for line in self.kept:
            before = len(findings)
            self.shape.lines, self.stopped = line.number, line.stopped
            record = parse_line(line.raw)
            if record is None:
                self.report.find("source", f"line {line.number} is not a JSON object")
            else:
                self._other(record)
            found = findings[before:]
            del findings[before:]
            at = line.findings_before + shift
            findings[at:at] = found
            shift += len(found)
        self.shape.lines, self.stopped = lines, stopped
        self.kept = []

    def _rows(self, record: dict[str, Any]) -> None:
        try:
            self.tables.rows(str(record.get("table")), record.get("rows"))
        except Exception as exc:  # a check tripped on data it did not foresee: say so
            log.exception("checking table rows failed")
            self.report.find("source", f"the audit could not check a page of "
                             f"{record.get('table')!r} rows ({type(exc).__name__}: {exc})"[:300])

    def _finish(self) -> None:
        self.certificates.finish()
        self._check_tables()
        for table, rows in self.state_digests.pages:  # counted last, whichever way tables were
            self.shape.table_rows(table, rows)
        if not self.stopped:
            self.state_digests.finish(self.replay.digests)
        self.shape.check(self.replay)
        replay, report = self.replay, self.report
        report.chain_id = replay.chain_id or None
        report.genesis_hash = replay.hashes[0] if replay.hashes else None
        report.head_height = replay.head.height if replay.head is not None else None
        report.head_hash = replay.hashes[-1] if replay.hashes else None
        report.log_size = replay.log.size
        report.log_root = replay.log.root().hex() if replay.log.size else ""
        report.contract_code = replay.local_code

