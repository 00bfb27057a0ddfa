"""The row the records index keeps for a credential, a financing or a credit line.

Nodes list records by party, status and date from an index table derived
from the world state (node/storage/records_index.py); the auditor rebuilds
the same rows from the re-executed state and compares them with the
exported table (client/audit/tables.py).  Both derive a row here, so a
node cannot serve lists from an index the audit would not find.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

RECORD_TABLE = "records"
KIND_OF_PREFIX = {"receivable/": "receivable", "financing/": "financing",
                  "credit_line/": "credit_line"}
CREDIT_LINE_STATUS = "open"  # stored for every credit line; expiry is a matter of the day asked
RECORD_COLUMNS = ("id", "kind", "status", "party_a", "party_b", "date")
RECORD_ROW = (*RECORD_COLUMNS, "height")
FIELDS_OF_KIND = {  # the fields of each kind of record its index row is made from
    "receivable": ("id", "status", "issuer", "first_holder", "maturity_date"),
    "financing": ("id", "status", "seller", "bank", "note"),
    "credit_line": ("id", "bank", "core", "expiry_date"),
}
MaturityOf = Callable[[str], str | None]  # a note id -> its maturity date, if known


def record_kind(key: str) -> str | None:
    """Return the indexed kind a state key holds (receivable, financing, credit_line), or None."""
    prefix = key[: key.find("/") + 1]
    return KIND_OF_PREFIX.get(prefix) if prefix else None


def index_row(kind: str, record: Any, height: int, maturity_of: MaturityOf) -> dict[str, Any]:
    """Return the index row of one record (a decoded record object or its JSON dict).

    The parties are, for a credential, its issuer and first holder; for a
    financing, the seller and the bank; for a credit line, the bank and the
    core enterprise.  The date is the credential's maturity, the financed
    note's maturity or the line's expiry.  `height` is the block that last
    wrote the record.
    """
    def get(name: str) -> Any:
        return record[name] if isinstance(record, Mapping) else getattr(record, name)

    if kind == "receivable":
        row = (get("status"), get("issuer"), get("first_holder"), get("maturity_date"))
    elif kind == "financing":
        row = (get("status"), get("seller"), get("bank"), maturity_of(get("note")))
    else:
        row = (CREDIT_LINE_STATUS, get("bank"), get("core"), get("expiry_date"))
    status, party_a, party_b, date = row
    return {"id": get("id"), "kind": kind, "status": str(status), "party_a": party_a,
            "party_b": party_b, "date": date, "height": height}
