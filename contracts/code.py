"""The contract code pin: which version of this package the chain was built with.

Every node must compute the same results, so every node must run the same
contract code.  The chain records the SHA-256 of that code (`contracts/pinned`,
a list of `{from_height, hash}` versions written at genesis and changed only
by governance), and a node compares it with `code_hash()` of its own copy of
this package before it starts and before each block.

`code_hash` is the only function of the contracts package that does I/O: it
reads the package's own source files.  That is allowed here because it never
runs inside a transaction (no contract action calls it; only the node at
start-up and commit, and the consortium tool when it writes a genesis), and
because the files it reads are the very code being pinned.
`pinned_code_hash` is pure and reads state like any contract.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ledger.crypto import sha256_hex
from ledger.execution import StateReader

PIN_KEY = "contracts/pinned"
PACKAGE_DIR = Path(__file__).resolve().parent


def code_hash(package_dir: Path = PACKAGE_DIR) -> str:
    """Return the SHA-256 (hex) of every `*.py` file of the contracts package.

    Files are taken in order of their POSIX path relative to the package
    (`__pycache__` skipped); each contributes its path in UTF-8, a NUL byte,
    its length in decimal, a NUL byte and its bytes, so no two different
    trees give the same input.  Raises OSError if a file cannot be read.
    """
    root = package_dir.resolve()
    files = sorted(
        (path.relative_to(root).as_posix(), path)
        for path in root.rglob("*.py")
        if "__pycache__" not in path.relative_to(root).parts
    )
    parts = []
    for relative, path in files:
        content = path.read_bytes()
        parts.append(b"%s\0%d\0%s" % (relative.encode("utf-8"), len(content), content))
    return sha256_hex(b"".join(parts))


def pin_versions(state: StateReader) -> list[dict[str, Any]]:
    """Return the recorded pins, oldest first ([] when the genesis pinned nothing)."""
    value = state.get(PIN_KEY)
    return list(value) if isinstance(value, list) else []


def pinned_code_hash(state: StateReader, height: int) -> str | None:
    """Return the contract code hash pinned for block `height`, or None if nothing is pinned.

    The pin in force is the last version whose `from_height` is at most `height`.
    """
    applicable = [v for v in pin_versions(state) if v["from_height"] <= height]
    return str(applicable[-1]["hash"]) if applicable else None
