"""Answers shown to people: yuan with separators, short ids, names beside USCCs.

The node answers with integer fen and bare USCCs; a person reads
"1,000,000.00 CNY" and "苏州精密部件有限公司 · 9131...".  These helpers are
pure and shared by every front end on the SDK (the `ledger` command line
draws with them in client/cli/render.py, the web console in its page
filters), so both say an amount or an organisation the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ledger.money import format_fen

Record = Mapping[str, Any]
SHORT_ID = 12  # hex characters shown of an id (any unique 8+ are accepted back)


def yuan(fen: int, currency: str = "CNY") -> str:
    """Return an amount in fen as yuan with thousands separators and its currency."""
    return f"{format_fen(fen)} {currency}"


def short(record_id: str | None) -> str:
    """Return the first characters of an id, enough to type it back (a unique prefix)."""
    if not record_id:
        return "-"
    return record_id if len(record_id) <= SHORT_ID else record_id[:SHORT_ID] + "…"


class Directory:
    """The consortium's members by USCC, for putting names beside USCCs.

    `fetch` returns the member records (the node's /v1/members answer); it
    is called only when a name is first needed, and again after `forget`.
    """

    def __init__(self, fetch: Callable[[], Sequence[Record]]) -> None:
        self._fetch = fetch
        self._members: dict[str, Record] | None = None

    def members(self) -> dict[str, Record]:
        """Return every member record by USCC."""
        if self._members is None:
            self._members = {m["uscc"]: m for m in self._fetch()}
        return self._members

    def forget(self) -> None:
        """Drop the members fetched, so the next name is fetched afresh (members change)."""
        self._members = None

    def name(self, uscc: str | None) -> str:
        """Return the member's name, or the USCC itself if it is not a member."""
        if not uscc:
            return "-"
        member = self.members().get(uscc)
        return str(member["name"]) if member else uscc

    def org(self, uscc: str | None) -> str:
        """Return "name · USCC" for a member, the bare USCC otherwise."""
        if not uscc:
            return "-"
        name = self.name(uscc)
        return uscc if name == uscc else f"{name} · {uscc}"
