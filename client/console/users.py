"""The people of the organisation who use the console: accounts, roles, passwords, lockout, TOTP.

People log in to the console, not to the ledger: the ledger sees one
organisation and its key.  Each account has one role:

- `maker` (经办) prepares transactions, which wait for approval;
- `checker` (复核) approves or rejects what another person prepared;
- `viewer` reads and acts on nothing;
- `admin` manages the accounts and reads and exports the audit trail.

Passwords are kept as argon2id hashes (argon2-cffi's defaults).  After
`lockout_attempts` failed logins in a row an account is locked for
`lockout_minutes`, and the lockout goes in the audit trail; an admin (or
`ledger console user unlock`) can lift it.  With `totp` on, checkers and
admins also give a TOTP code (RFC 6238, pyotp): they enrol at their first
login, from the secret shown as text.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from typing import Any

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, Engine, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from client.console import audit_trail
from client.console.clock import now_s
from client.console.i18n import translator
from client.console.store import users

ROLES = ("maker", "checker", "viewer", "admin")
SECOND_FACTOR_ROLES = frozenset({"checker", "admin"})
NAME = re.compile(r"[\w.@-]{1,64}")
MIN_PASSWORD = 10
HASHER = PasswordHasher()
_DUMMY = HASHER.hash("not anybody's password")  # a missing user costs the same time


class UserError(ValueError):
    """Raised when an account cannot be made or changed: a catalog key and its fields.

    `str()` gives the English words (the command line); pages show
    `t(exc.key, **exc.fields)` in the visitor's language.
    """

    def __init__(self, key: str, **fields: Any) -> None:
        super().__init__(translator("en")(key, **fields))
        self.key = key
        self.fields = fields


@dataclass(frozen=True)
class User:
    """An account as the pages see it (no hash)."""

    id: int
    name: str
    role: str
    totp_enrolled: bool
    locked_until: int
    failed_logins: int

    def locked(self, now: int) -> bool:
        """Return whether the account is locked at `now`."""
        return self.locked_until > now


def _user(row: Any) -> User:
    return User(row.id, row.name, row.role, bool(row.totp_enrolled), row.locked_until,
                row.failed_logins)


def check_password(password: str) -> None:
    """Raise UserError unless `password` is long enough to keep."""
    if len(password) < MIN_PASSWORD:
        raise UserError("user_short_password", length=MIN_PASSWORD)


def add_user(engine: Engine, *, name: str, role: str, password: str, by: str) -> User:
    """Create an account; raise UserError for a bad name or role, a short password, a taken name."""
    if not NAME.fullmatch(name):
        raise UserError("user_bad_name")
    if role not in ROLES:
        raise UserError("user_bad_role")
    check_password(password)
    now = now_s()
    try:
        with engine.begin() as db:
            made = db.execute(insert(users).values(
                name=name, role=role, password_hash=HASHER.hash(password), totp_enrolled=False,
                failed_logins=0, locked_until=0, created_at=now))
            audit_trail.record(db, user=by, event="user_added", at=now,
                               detail=f"{name} as {role}")
    except IntegrityError as exc:
        raise UserError("user_taken", name=name) from exc
    return find(engine, int(made.inserted_primary_key[0]))  # type: ignore[index]


def find(engine: Engine, user_id: int) -> User:
    """Return the account `user_id`; raise UserError if there is none."""
    with engine.connect() as db:
        row = db.execute(select(users).where(users.c.id == user_id)).first()
    if row is None:
        raise UserError("user_missing")
    return _user(row)


def by_name(engine: Engine, name: str) -> User:
    """Return the account called `name`; raise UserError if there is none."""
    with engine.connect() as db:
        row = db.execute(select(users).where(users.c.name == name)).first()
    if row is None:
        raise UserError("user_missing")
    return _user(row)


def all_users(engine: Engine) -> list[User]:
    """Return every account, by name."""
    with engine.connect() as db:
        return [_user(r) for r in db.execute(select(users).order_by(users.c.name))]


@dataclass(frozen=True)
class Login:
    """What a password login came to: the user, or why not (`wrong` or `locked`)."""

    user: User | None
    problem: str | None = None


def log_in(engine: Engine, name: str, password: str, *, attempts: int, minutes: int) -> Login:
    """Check `name`'s password, counting failures; lock after `attempts` in a row.

    A locked account is refused even with the right password.  Every
    outcome but success on an unknown name goes in the audit trail.
    """
    now = now_s()
    with engine.begin() as db:
        row = db.execute(select(users).where(users.c.name == name)).first()
        if row is None:
            _verify(_DUMMY, password)
            return Login(None, "wrong")
        if row.locked_until > now:
            audit_trail.record(db, user=name, event="login_refused_locked", at=now)
            return Login(None, "locked")
        if _verify(row.password_hash, password):
            db.execute(update(users).where(users.c.id == row.id)
                       .values(failed_logins=0, locked_until=0))
            return Login(_user(row))
        lock = _count_failure(db, row, attempts, minutes, now)
    return Login(None, "locked" if lock else "wrong")


def _count_failure(db: Connection, row: Any, attempts: int, minutes: int, now: int) -> bool:
    """Count one failed login of `row`'s account; lock it at `attempts`; return whether locked."""
    failed = row.failed_logins + 1
    lock = failed >= attempts
    db.execute(update(users).where(users.c.id == row.id).values(
        failed_logins=0 if lock else failed,
        locked_until=now + minutes * 60 if lock else row.locked_until))
    audit_trail.record(db, user=row.name, event="login_failed", at=now,
                       detail=f"failure {failed} of {attempts}")
    if lock:
        audit_trail.record(db, user=row.name, event="locked_out", at=now,
                           detail=f"{attempts} failed logins: locked for {minutes} minutes")
    return bool(lock)


def second_factor_failed(engine: Engine, user_id: int, *, attempts: int, minutes: int) -> bool:
    """Count a wrong TOTP code as a failed login (the same lockout); return whether now locked."""
    with engine.begin() as db:
        row = db.execute(select(users).where(users.c.id == user_id)).first()
        return bool(row is not None and _count_failure(db, row, attempts, minutes, now_s()))


def _verify(password_hash: str, password: str) -> bool:
    try:
        return HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def set_password(engine: Engine, user_id: int, password: str, *, by: str) -> None:
    """Give account `user_id` a new password (and unlock it); raise UserError if too short."""
    check_password(password)
    target = find(engine, user_id)
    with engine.begin() as db:
        db.execute(update(users).where(users.c.id == user_id).values(
            password_hash=HASHER.hash(password), failed_logins=0, locked_until=0))
        audit_trail.record(db, user=by, event="password_reset", at=now_s(), detail=target.name)


def unlock(engine: Engine, user_id: int, *, by: str) -> None:
    """Lift a lockout and forget the failed logins of account `user_id`."""
    target = find(engine, user_id)
    with engine.begin() as db:
        db.execute(update(users).where(users.c.id == user_id)
                   .values(failed_logins=0, locked_until=0))
        audit_trail.record(db, user=by, event="unlocked", at=now_s(), detail=target.name)


def set_role(engine: Engine, user_id: int, role: str, *, by: str) -> None:
    """Give account `user_id` another role; raise UserError if unknown or the last admin's."""
    if role not in ROLES:
        raise UserError("user_bad_role")
    target = find(engine, user_id)
    admins = [u for u in all_users(engine) if u.role == "admin"]
    if target.role == "admin" and role != "admin" and len(admins) == 1:
        raise UserError("user_last_admin")
    with engine.begin() as db:
        db.execute(update(users).where(users.c.id == user_id).values(role=role))
        audit_trail.record(db, user=by, event="role_changed", at=now_s(),
                           detail=f"{target.name}: {target.role} -> {role}")


# -- the second factor ------------------------------------------------------------------


def needs_second_factor(user: User, totp_on: bool) -> bool:
    """Return whether `user` must give a TOTP code to log in (checkers and admins, when on)."""
    return totp_on and user.role in SECOND_FACTOR_ROLES


def totp_secret(engine: Engine, user_id: int) -> str:
    """Return the TOTP secret of account `user_id`, made now if it has none yet."""
    with engine.begin() as db:
        secret = db.execute(select(users.c.totp_secret).where(users.c.id == user_id)).scalar()
        if not secret:
            secret = pyotp.random_base32()
            db.execute(update(users).where(users.c.id == user_id).values(totp_secret=secret))
    return str(secret)


def check_totp(engine: Engine, user_id: int, code: str) -> bool:
    """Return whether `code` is the account's current TOTP code; enrol the account if it is.

    A code of the time step before or after the current one is accepted
    (clocks drift), but each code only once: the step of the last code
    accepted is kept, and a code of that step or an earlier one is refused,
    so a code seen over a shoulder or in a log cannot log in again.
    """
    totp = pyotp.TOTP(totp_secret(engine, user_id))
    step = _matching_step(totp, code.strip())
    if step is None:
        return False
    with engine.begin() as db:
        taken = db.execute(update(users).where(
            users.c.id == user_id,
            or_(users.c.totp_last_step.is_(None), users.c.totp_last_step < step),
        ).values(totp_enrolled=True, totp_last_step=step)).rowcount
    return bool(taken)


def _matching_step(totp: pyotp.TOTP, code: str) -> int | None:
    """Return the time step (now, or one either side) whose code is `code`, or None."""
    now = now_s() // totp.interval
    for step in (now - 1, now, now + 1):
        if hmac.compare_digest(totp.at(step * totp.interval), code):
            return step
    return None


def otpauth_uri(secret: str, name: str, issuer: str) -> str:
    """Return the otpauth:// URI an authenticator app reads (typed in, or as text)."""
    return pyotp.TOTP(secret).provisioning_uri(name=name, issuer_name=issuer)
