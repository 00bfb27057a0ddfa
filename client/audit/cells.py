"""Comparing stored cells with re-derived values, and showing them in findings."""

from __future__ import annotations

import binascii
from typing import Any


def same(stored: Any, expected: Any) -> bool:
    """Return whether a stored cell holds exactly the expected value.

    Booleans may be stored as 0/1 (SQLite); an integer must be an integer,
    text must be text, bytes must be bytes.
    """
    if isinstance(expected, bool):
        return stored is expected or (type(stored) is int and stored == int(expected))
    if expected is None:
        return stored is None
    return type(stored) is type(expected) and bool(stored == expected)


def same_cell(cell: Any, expected: Any) -> bool:
    """Return whether an undecoded cell stands for exactly the expected value.

    Bytes are compared in their base64 spelling (one spelling per value), so
    the cell need not be decoded; other values as `same` compares them.
    """
    if isinstance(expected, bytes):
        return (type(cell) is dict and len(cell) == 1
                and cell.get("b64") == binascii.b2a_base64(expected, newline=False).decode())
    return same(cell, expected)


def differing(names: list[str]) -> str:
    """Return "a differs" or "a, b differ" for the names of differing columns."""
    return ", ".join(names) + (" differs" if len(names) == 1 else " differ")


def show(value: Any) -> str:
    """Return a short printable form of a value (bytes as hex)."""
    text = value.hex() if isinstance(value, bytes) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
