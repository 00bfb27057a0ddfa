"""What a person may type where the ledger wants an id or an organisation.

An organisation may be given by USCC, by the alias of a local consortium
(`core`, `tier1`: the names of its keystores, read from the
`consortium.json` beside the keystore's folder) or by (part of) its name,
case-insensitively.  A record id may be given whole or by a unique prefix of
at least 8 hex characters, which the node resolves among the records this
participant may see.  Anything that matches nothing, or more than one
thing, is refused with the candidates named, before anything is signed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ledger.membership import is_valid_uscc

MIN_PREFIX = 8
FULL_ID = 64
HEX = re.compile(r"[0-9a-f]+")
KIND_WORDS = {"note": "note", "receivable": "credential", "financing": "financing",
              "credit_line": "credit line", "tx": "transaction"}


class ResolveError(ValueError):
    """Raised when what was typed names no record or organisation, or several."""


def consortium_aliases(keystore: Path | None) -> dict[str, str]:
    """Return alias -> USCC from the local consortium the keystore belongs to, if any.

    `consortium init` writes keystores as DIR/keys/<alias>.json and the
    aliases in DIR/consortium.json; a keystore anywhere else has no aliases.
    """
    if keystore is None:
        return {}
    description = keystore.resolve().parent.parent / "consortium.json"
    try:
        orgs = json.loads(description.read_text(encoding="utf-8"))["orgs"]
        return {str(alias): str(org["uscc"]) for alias, org in orgs.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def organisation(text: str, *, what: str, members: Mapping[str, Mapping[str, Any]],
                 aliases: Mapping[str, str]) -> str:
    """Return the USCC of the member `text` names (USCC, alias or part of its name).

    Raises ResolveError naming `what` was looked for and, when several
    members match, each of them.
    """
    typed = text.strip()
    if is_valid_uscc(typed.upper()):
        uscc = typed.upper()
        if uscc not in members:
            raise ResolveError(f"{what} {uscc} is not a member of this consortium "
                               "(`ledger members` lists them)")
        return uscc
    if typed in aliases:
        return aliases[typed]
    needle = typed.casefold()
    if not needle:
        raise ResolveError(f"{what}: give a USCC, an alias or a name")
    exact = [u for u, m in members.items() if str(m["name"]).casefold() == needle]
    found = exact or [u for u, m in members.items() if needle in str(m["name"]).casefold()]
    if len(found) == 1:
        return found[0]
    if not found:
        known = f"; aliases here: {', '.join(sorted(aliases))}" if aliases else ""
        raise ResolveError(f"{what} {text!r} matches no member's USCC, alias or name "
                           f"(`ledger members` lists them{known})")
    names = "; ".join(f"{members[u]['name']} ({u})" for u in sorted(found))
    raise ResolveError(f"{what} {text!r} is ambiguous: it matches {names}")


def record_id(text: str, *, kinds: Sequence[str],
              lookup: Callable[[str, Sequence[str]], list[dict[str, str]]]) -> str:
    """Return the full id of the record of one of `kinds` that `text` names.

    `text` is a full 64-hex id (returned as is: the node answers for it) or
    a prefix of at least 8 hex characters that `lookup(prefix, kinds)`
    resolves among the records this participant may see.
    """
    typed = text.strip().lower()
    what = " or ".join(KIND_WORDS[k] for k in kinds)
    if not typed or not HEX.fullmatch(typed):
        raise ResolveError(f"{what} id {text!r} is not hexadecimal (ids are 64 hex "
                           f"characters; a unique prefix of {MIN_PREFIX} or more will do)")
    if len(typed) > FULL_ID:
        raise ResolveError(f"{what} id {text!r} is longer than {FULL_ID} hex characters")
    if len(typed) == FULL_ID:
        return typed
    if len(typed) < MIN_PREFIX:
        raise ResolveError(f"{what} id {text!r} is too short: give at least {MIN_PREFIX} "
                           "hex characters")
    found = sorted({m["id"] for m in lookup(typed, kinds)})
    if len(found) == 1:
        return found[0]
    if not found:
        raise ResolveError(f"{what} {typed}… not found (none you may see starts so)")
    raise ResolveError(f"{what} {typed}… is ambiguous: it starts "
                       f"{', '.join(f[:16] + '…' for f in found[:5])}; type more of it")
