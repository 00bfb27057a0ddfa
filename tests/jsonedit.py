"""Editing JSON documents in tests: change fields, or remove them with `...`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def edited(value: Mapping[str, Any], **changes: Any) -> dict[str, Any]:
    """Return a copy of `value` with `changes` applied; a change to `...` removes the field."""
    result = dict(value)
    for name, new in changes.items():
        if new is ...:
            del result[name]
        else:
            result[name] = new
    return result
