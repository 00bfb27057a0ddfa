"""Comparing stored cells with re-derived values, and showing them in findings."""

from __future__ import annotations

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


def differing(names: list[str]) -> str:
    """Return "a differs" or "a, b differ" for the names of differing columns."""
    return ", ".join(names) + (" differs" if len(names) == 1 else " differ")


def show(value: Any) -> str:
    """Return a short printable form of a value (bytes as hex)."""
    text = value.hex() if isinstance(value, bytes) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
