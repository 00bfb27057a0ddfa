"""One error hierarchy for the whole ledger.

Every failure the core can report is a subclass of `LedgerError`, so callers
(the node's HTTP layer, the SDK, the auditor) can map them to a clear answer
without string matching.  Each subclass carries a short machine `code`.
"""

from __future__ import annotations

RULE_END = ": "
MAX_NAMED = 5
MAX_NAME_LENGTH = 64
MAX_SHOWN_TEXT = 40
SHORT_ID_LENGTH = 8


class LedgerError(Exception):
    """Raised for any failure detected by the ledger core."""

    code = "ledger_error"


class EncodingError(LedgerError):
    """Raised when data is not valid canonical JSON of our schema."""

    code = "bad_encoding"


class SchemaError(LedgerError):
    """Raised when a well-formed document has missing, extra or mistyped fields."""

    code = "bad_schema"


class AmountError(SchemaError, ValueError):
    """Raised when text given as an amount of yuan is not a well-formed one.

    A SchemaError like any bad input, and a ValueError, as a parse of text
    is expected to raise.
    """


class SignatureError(LedgerError):
    """Raised when a signature is missing, forged, extra or made with the wrong key."""

    code = "bad_signature"


class ReplayError(LedgerError):
    """Raised when a transaction id or a signer's nonce has been used before."""

    code = "replay"


class ValidityWindowError(LedgerError):
    """Raised when block time falls outside a transaction's validity window."""

    code = "outside_validity_window"


class UnknownContractError(LedgerError):
    """Raised when a transaction names a contract or action that does not exist."""

    code = "unknown_contract"


class ContractViolation(LedgerError):
    """Raised when a contract rule fails; the message is the rule, then what was wrong.

    The message is "<rule>: <detail>", for example "each split piece is at
    least the minimum amount: piece 50.00 is below the minimum 100.00", or
    the rule alone when there is nothing more to say.  The rule is the
    clause the contract states and the tests assert; it never contains
    ": ", so `rule_of` reads it back from a stored reason.
    """

    code = "contract_violation"

    def __init__(self, rule: str, detail: str = "") -> None:
        super().__init__(f"{rule}{RULE_END}{detail}" if detail else rule)
        self.rule = rule
        self.detail = detail


class ProofError(LedgerError):
    """Raised when an inclusion or consistency proof does not verify."""

    code = "bad_proof"


def rule_of(reason: str) -> str:
    """Return the rule of a contract violation's message (the whole text if it has no detail).

    The inverse of ContractViolation's message: "<rule>: <detail>" gives
    <rule>, which never contains ": " itself.
    """
    return reason.partition(RULE_END)[0]


def short_id(record_id: str) -> str:
    """Return a record id as people quote it: its first 8 characters and an ellipsis."""
    return record_id[:SHORT_ID_LENGTH] + "\u2026"


def described(value: object) -> str:
    """Return a short description of a JSON value a sender gave, fit to quote in a message.

    Short printable text is quoted (repr, so no control character gets
    through); longer text is described by its length; numbers, true, false
    and null are written as in JSON; a list or an object only by its kind.
    """
    if isinstance(value, str):
        if len(value) <= MAX_SHOWN_TEXT:
            return repr(value)
        return f"text of {len(value)} characters"
    if value is None or isinstance(value, bool):
        return "null" if value is None else str(value).lower()
    if isinstance(value, int):
        return str(value) if abs(value) < 10**MAX_SHOWN_TEXT else "a huge number"
    if isinstance(value, list):
        return f"a list of {len(value)} item{'' if len(value) == 1 else 's'}"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"


def names_in_message(names: list[str]) -> str:
    """Return names a sender chose (unknown fields, say) fit to quote in an error message.

    Printable ASCII without spaces stays as it is; anything else is quoted
    with repr(), which escapes control characters (a NUL would otherwise
    reach the stored reason of an invalid transaction, and PostgreSQL text
    cannot hold one).  At most five names of at most 64 characters are shown.
    """
    shown = [n if n and n.isascii() and n.isprintable() and " " not in n else repr(n)
             for n in names[:MAX_NAMED]]
    shown = [n if len(n) <= MAX_NAME_LENGTH else n[:MAX_NAME_LENGTH] + "..." for n in shown]
    more = len(names) - MAX_NAMED
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")
