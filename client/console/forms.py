"""What the supplier's and core enterprise's forms share: amounts typed in yuan, members by role.

A person types "1,000,000.00"; the ledger takes integer fen.  `fen_of`
reads a field with `ledger.money.parse_yuan` (separators, at most two
decimals, nothing else) and says what is wrong in the visitor's language.
`members_with` lists the active members of a role by name, for the pickers
(recipients, banks, suppliers): a person picks a name, the form posts the
USCC, and the page checks the USCC it gets back against the same list.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from client.console.i18n import Translator
from client.console.services import Console
from ledger.errors import AmountError
from ledger.money import parse_yuan


def fen_of(text: str, t: Translator) -> tuple[int | None, str | None]:
    """Return (fen, None) for a positive amount typed in yuan, or (None, what is wrong)."""
    if not text.strip():
        return None, t("form_amount_missing")
    try:
        fen = parse_yuan(text)
    except AmountError:
        return None, t("form_amount_bad", text=text[:40])
    if fen <= 0:
        return None, t("form_amount_positive")
    return fen, None


def members_with(console: Console, role: str, *, but: str | None = None) -> list[Mapping[str, Any]]:
    """Return the active members holding `role` (except `but`), by name."""
    found = [m for m in console.directory.members().values()
             if role in m.get("roles", ()) and m.get("status", "active") == "active"
             and m["uscc"] != but]
    return sorted(found, key=lambda m: str(m["name"]))


def today_of(console: Console) -> str:
    """Return the ledger's date (the node's clock: a simulation moves it), YYYY-MM-DD."""
    return str(console.signer.participant().status()["time"])[:10]
