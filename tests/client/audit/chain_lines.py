"""A chain file held in memory, as an audit source (tests of the audit share it)."""

from __future__ import annotations

import io
from collections.abc import Iterator


class Lines:
    """Chain-file bytes as an audit source."""

    label = "file (in memory)"

    def __init__(self, data: bytes) -> None:
        self.data = data

    def lines(self) -> Iterator[bytes]:
        """Yield the file's lines."""
        yield from io.BytesIO(self.data)
