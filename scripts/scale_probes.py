"""What scripts/bench_scale.py measures from outside: memory, bytes on disk, an audit, reads.

Each probe looks at real processes and files: the resident memory of a
process and its children (from /proc), a SQLite database's bytes per table
(SQLite's dbstat pages, indexes counted with their table), `ledger audit`
run as its own process with its peak memory watched, and signed reads
through the SDK timed one by one while the node is under load.
"""

from __future__ import annotations

import json
import random
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from client.sdk.participant import Participant

MB = 1_000_000


def _children(pid: int) -> list[int]:
    """Return the ids of `pid`'s direct children (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _own_rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def rss_bytes(pid: int, *, children: bool = True) -> int:
    """Return the resident memory of `pid` (and, with `children`, of its descendants)."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        total += _own_rss(current)
        if children:
            todo += _children(current)
    return total


class PeakRss(threading.Thread):
    """Samples a process tree's resident memory every `every` seconds and keeps the highest."""

    def __init__(self, pid: int, every: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.pid, self.every, self.peak = pid, every, 0
        self._halt = threading.Event()

    def run(self) -> None:
        """Sample until stopped."""
        while not self._halt.is_set():
            self.peak = max(self.peak, rss_bytes(self.pid))
            self._halt.wait(self.every)

    def stop(self) -> int:
        """Stop sampling; return the peak seen."""
        self._halt.set()
        self.join()
        return self.peak


def table_bytes(database: Path) -> dict[str, int]:
    """Return the bytes of each table of a SQLite database, its indexes included, largest first."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        owner = dict(db.execute("SELECT name, tbl_name FROM sqlite_master"))
        sizes: dict[str, int] = {}
        for name, size in db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"):
            table = owner.get(name, name)
            sizes[table] = sizes.get(table, 0) + int(size)
    return dict(sorted(sizes.items(), key=lambda item: -item[1]))


@dataclass(frozen=True)
class AuditFigures:
    """What one `ledger audit` of a chain file gave."""

    passed: bool
    tx_per_s: float
    seconds: float
    peak_rss: int


def audit_file(chain: Path, log: Path) -> AuditFigures:
    """Run `ledger --json audit --chain FILE --parallel` as a process; watch its memory.

    The peak is that of the auditor and its signature verifier together,
    sampled four times a second.  Raises RuntimeError if it printed no report.
    """
    command = [sys.executable, "-m", "client", "--json", "audit", "--chain", str(chain),
               "--parallel"]
    with log.open("wb") as errors:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors)
        watch = PeakRss(process.pid)
        watch.start()
        out, _ = process.communicate()
    peak = watch.stop()
    try:
        report = json.loads(out)
    except ValueError as exc:
        raise RuntimeError(f"the audit printed no report: {log.read_text()[-2000:]}") from exc
    stats = report["statistics"]
    return AuditFigures(bool(report["passed"]), float(stats["tx_per_s"]),
                        float(stats["seconds"]), peak)


def p99(values: list[float]) -> float:
    """Return the 99th percentile of `values` (the nearest rank; 0 for none)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


class Reader(threading.Thread):
    """Reads holdings and notes through the SDK, one request at a time, and times each.

    Holdings are each supplier's active notes, in turn; notes are drawn at
    random from `note_ids` and read as the auditor (who may read any).
    """

    def __init__(self, suppliers: list[Participant], auditor: Participant,
                 note_ids: list[str], pause: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.suppliers, self.auditor, self.note_ids, self.pause = (
            suppliers, auditor, note_ids, pause)
        self.holdings_ms: list[float] = []
        self.note_ms: list[float] = []
        self.errors: list[str] = []
        self._halt = threading.Event()

    def run(self) -> None:
        """Alternate a holdings read and a note read until stopped."""
        turn = 0
        while not self._halt.is_set():
            self._timed(self.holdings_ms, self.suppliers[turn % len(self.suppliers)].holdings)
            if self.note_ids:
                self._timed(self.note_ms, lambda: self.auditor.note(random.choice(self.note_ids)))
            turn += 1
            self._halt.wait(self.pause)

    def _timed(self, into: list[float], read: Callable[[], object]) -> None:
        started = time.perf_counter()
        try:
            read()
        except Exception as exc:  # a failed read is a finding to print, not a crash
            self.errors.append(f"{type(exc).__name__}: {exc}")
            return
        into.append(1000 * (time.perf_counter() - started))

    def stop(self) -> None:
        """Stop reading and wait for the read in flight."""
        self._halt.set()
        self.join()
