"""`ledger export`: a chain file an auditor takes away and audits with no node running.

From a node, over HTTP with the auditor's identity (`GET /v1/export`: the
whole file from one snapshot of the node's database, streamed to disk as it
comes); or, offline, from a node's own database by running `python -m node
export` (the client never imports the node).  Either way the file is
written next to its final name and renamed when complete, so a file with
that name is never half written.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from client.sdk.http import NodeClient

BLOCK_LINE = b'{"type":"block"'


@dataclass(frozen=True)
class Exported:
    """What was written."""

    path: Path
    lines: int
    blocks: int
    bytes: int


def export_from_node(node: NodeClient, out: Path,
                     progress: Callable[[int], None] | None = None) -> Exported:
    """Stream the node's chain file into `out`; raise NodeError if the node refuses."""
    partial = out.with_name(out.name + ".partial")
    lines = blocks = size = 0
    try:
        with partial.open("wb") as handle:
            for line in node.stream_lines("/v1/export"):
                handle.write(line)
                lines += 1
                size += len(line)
                if line.startswith(BLOCK_LINE):
                    blocks += 1
                    if progress is not None:
                        progress(blocks)
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    return Exported(out, lines, blocks, size)


class ExportFailed(Exception):
    """Raised when the offline exporter could not read the database."""


def export_from_database(database_url: str, out: Path) -> Exported:
    """Run `python -m node export` on a node database; raise ExportFailed if it fails."""
    partial = out.with_name(out.name + ".partial")
    try:
        done = subprocess.run(
            [sys.executable, "-m", "node", "export", "--database", database_url,
             "--out", str(partial)], capture_output=True, text=True, check=False,
            env={**os.environ, "PYTHONPATH": _package_path()})
        if done.returncode != 0:
            raise ExportFailed(done.stderr.strip() or f"the exporter exited {done.returncode}")
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    lines = blocks = 0
    with out.open("rb") as handle:
        for line in handle:
            lines += 1
            blocks += line.startswith(BLOCK_LINE)
    return Exported(out, lines, blocks, out.stat().st_size)


def _package_path() -> str:
    """Return PYTHONPATH with this checkout first, so `-m node` is the node beside this client."""
    root = str(Path(__file__).resolve().parents[2])  # <checkout>/client/audit/chain_file.py
    extra = os.environ.get("PYTHONPATH")
    return root if not extra else root + os.pathsep + extra
