"""The console's own database: users, sessions, the approval queue, the audit trail, settings.

It also keeps what a checker's approval signed for another organisation to
co-sign (`half_signed`: a bank's credit line proposal, for its core enterprise),
and an auditor's audits of its node with their reports (`audit_jobs`,
client/console/audit_jobs.py).

SQLAlchemy Core over SQLite (a file beside the settings, by default) or
PostgreSQL (by URL), the same tables on both.  Nothing of the ledger lives
here: approvals stay off chain (the organisation's business), and the
transaction id links an approval to what the node committed.  Times are
whole seconds since the epoch (UTC), the same on both databases.  Every
open creates the tables a database lacks (a table added in a later version
appears in an older console's database at its next start); columns are
never changed in place.

The cookie secret is made here, at the first open, and kept in `settings`:
it keys the CSRF tokens of forms shown before login (client/console/guard.py).
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    insert,
    select,
    text,
)

metadata = MetaData()

settings = Table(
    "console_settings", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

users = Table(
    "console_users", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("totp_secret", String(64)),
    Column("totp_enrolled", Boolean, nullable=False, default=False),
    Column("totp_last_step", Integer),  # the time step of the last code accepted: never again
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("locked_until", Integer, nullable=False, default=0),
    Column("created_at", Integer, nullable=False),
)

sessions = Table(
    "console_sessions", metadata,
    Column("token_hash", String(64), primary_key=True),  # SHA-256 of the cookie: a leak opens none
    Column("user_id", Integer, nullable=False, index=True),
    Column("stage", String(16), nullable=False),  # "second_factor" until TOTP is given, then "in"
    Column("csrf", String(64), nullable=False),
    Column("created_at", Integer, nullable=False),
    Column("expires_at", Integer, nullable=False),
)

approvals = Table(
    "console_approvals", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("action", String(64), nullable=False),
    Column("args", Text, nullable=False),  # canonical JSON of the typed arguments
    Column("summary", Text, nullable=False),
    Column("subject", String(64), nullable=False, index=True),  # the record acted on
    Column("state", String(16), nullable=False, index=True),
    Column("prepared_by", String(64), nullable=False),
    Column("prepared_at", Integer, nullable=False),
    Column("decided_by", String(64)),
    Column("decided_at", Integer),
    Column("reason", Text),
    Column("tx_id", String(64)),
    Column("outcome", Text),
)

half_signed = Table(  # what an approval signed for another organisation to co-sign
    "half_signed", metadata,
    Column("approval_id", Integer, primary_key=True),
    Column("tx_id", String(64), nullable=False),
    Column("prepared", Text, nullable=False),  # the envelope JSON, as `ledger credit-line --out`
)

audit = Table(
    "console_audit", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Integer, nullable=False),
    Column("user", String(64), nullable=False),
    Column("event", String(32), nullable=False),
    Column("approval_id", Integer),
    Column("prepared_by", String(64)),
    Column("tx_id", String(64)),
    Column("detail", Text, nullable=False, default=""),
)


audit_jobs = Table(  # an auditor's audits of its node, run in the background
    "console_audit_jobs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("started_by", String(64), nullable=False),
    Column("started_at", Integer, nullable=False),
    Column("state", String(16), nullable=False),  # running, passed, failed, error, interrupted
    Column("finished_at", Integer),
    Column("detail", Text, nullable=False, default=""),  # why it ended in error or was cut short
    Column("report", Text),  # the report's JSON (client/audit/report.py), once it finished
    # one audit runs at a time: a second 'running' row is refused by the database itself
    Index("console_audit_jobs_one_running", "state", unique=True,
          sqlite_where=text("state = 'running'"), postgresql_where=text("state = 'running'")),
)


def open_database(url: str) -> Engine:
    """Return an engine on `url` with the console's tables created (SQLite or PostgreSQL)."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    metadata.create_all(engine)
    return engine


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def cookie_secret(engine: Engine) -> bytes:
    """Return the console's cookie secret, made (32 random bytes) and kept at the first call."""
    with engine.begin() as db:
        row = db.execute(select(settings.c.value).where(settings.c.key == "cookie_secret")).first()
        if row is not None:
            return bytes.fromhex(row.value)
        made = secrets.token_hex(32)
        db.execute(insert(settings).values(key="cookie_secret", value=made))
    with engine.connect() as db:  # a racing first start may have won: read what was kept
        kept = db.execute(select(settings.c.value).where(settings.c.key == "cookie_secret"))
        return bytes.fromhex(kept.scalar_one())
