"""The JSON response class every route uses (orjson: fast, and no floats to format)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response


class JSONBody(Response):
    """A JSON response rendered with orjson."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        """Encode `content` as JSON bytes."""
        return orjson.dumps(content)
