"""The state digest's rows: each block's digest, and the running product at the head.

Both are written in the block's database transaction (`record`), so the
digest a node serves is always that of a committed block, and after a
crash the product resumes from the last committed block without reading
the whole state again.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, Table, select

from node.storage.models import StateAccumulatorRow, StateDigestRow

DIGESTS: Table = StateDigestRow.__table__  # type: ignore[attr-defined]
ACCUMULATOR: Table = StateAccumulatorRow.__table__  # type: ignore[attr-defined]
ACCUMULATOR_ID = 1


def record(conn: Connection, height: int, digest: bytes, accumulator: bytes) -> None:
    """Write block `height`'s digest and make `accumulator` the head's running product."""
    conn.execute(DIGESTS.insert(), [{"height": height, "digest": digest}])
    conn.execute(ACCUMULATOR.delete())
    conn.execute(ACCUMULATOR.insert(), [{"id": ACCUMULATOR_ID, "height": height,
                                         "value": accumulator}])


def digest_at(engine: Engine, height: int) -> bytes | None:
    """Return the stored digest after block `height`, or None if none was kept."""
    with engine.connect() as conn:
        value: Any = conn.execute(
            select(DIGESTS.c.digest).where(DIGESTS.c.height == height)).scalar()
    return None if value is None else bytes(value)


def head_accumulator(engine: Engine) -> tuple[int, bytes] | None:
    """Return (height, running product) as last committed, or None if none was kept."""
    with engine.connect() as conn:
        row = conn.execute(select(ACCUMULATOR.c.height, ACCUMULATOR.c.value)).first()
    return None if row is None else (int(row[0]), bytes(row[1]))


def backfill(engine: Engine, height: int, digest: bytes, accumulator: bytes) -> None:
    """Record the head's digest for a database that kept none yet (computed from its state)."""
    with engine.begin() as conn:
        conn.execute(DIGESTS.delete().where(DIGESTS.c.height == height))
        record(conn, height, digest, accumulator)
