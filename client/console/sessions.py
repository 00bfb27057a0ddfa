"""Who is logged in: server-side sessions behind an HttpOnly, SameSite=Strict cookie.

The cookie holds 32 random bytes; the table holds only their SHA-256, so a
copy of the database opens no session.  A session is at a `stage`:
`second_factor` after the password when a TOTP code is still owed (it opens
only the TOTP page), `in` once fully logged in.  It ends after
`session_minutes` without a request, at logout, or when the user's password
is reset.  Each session carries its own CSRF token (client/console/guard.py).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import Engine, delete, insert, select, update

from client.console.clock import now_s
from client.console.store import sessions

COOKIE = "console_session"
SECOND_FACTOR, IN = "second_factor", "in"


@dataclass(frozen=True)
class Session:
    """A live session: whose, at which stage, and its CSRF token."""

    token_hash: str
    user_id: int
    stage: str
    csrf: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(engine: Engine, user_id: int, stage: str, minutes: int) -> str:
    """Start a session for `user_id` at `stage`; return the cookie value (shown once)."""
    token = secrets.token_urlsafe(32)
    now = now_s()
    with engine.begin() as db:
        db.execute(delete(sessions).where(sessions.c.expires_at < now))  # tidy as we go
        db.execute(insert(sessions).values(
            token_hash=_hash(token), user_id=user_id, stage=stage,
            csrf=secrets.token_urlsafe(32), created_at=now, expires_at=now + minutes * 60))
    return token


def current(engine: Engine, token: str | None, minutes: int) -> Session | None:
    """Return the live session of cookie `token` (extending it), or None if none or expired."""
    if not token:
        return None
    now = now_s()
    with engine.begin() as db:
        row = db.execute(select(sessions).where(sessions.c.token_hash == _hash(token))).first()
        if row is None or row.expires_at < now:
            return None
        db.execute(update(sessions).where(sessions.c.token_hash == row.token_hash)
                   .values(expires_at=now + minutes * 60))
    return Session(row.token_hash, row.user_id, row.stage, row.csrf)


def promote(engine: Engine, session: Session, minutes: int) -> str:
    """End `session` (owed a second factor) and start a fully logged-in one; return its cookie.

    A new cookie at each step up, so a token seen before login opens nothing after it.
    """
    close(engine, session)
    return open_session(engine, session.user_id, IN, minutes)


def close(engine: Engine, session: Session) -> None:
    """End `session` (logout)."""
    with engine.begin() as db:
        db.execute(delete(sessions).where(sessions.c.token_hash == session.token_hash))


def close_all(engine: Engine, user_id: int) -> None:
    """End every session of `user_id` (after a password reset or a role change)."""
    with engine.begin() as db:
        db.execute(delete(sessions).where(sessions.c.user_id == user_id))
