"""A TOTP code opens one login only: the same code cannot be used again in its window."""

from __future__ import annotations

from pathlib import Path

import pyotp

from client.console import users
from client.console.clock import now_s
from client.console.store import open_database


def test_a_totp_code_is_accepted_once_then_refused(tmp_path: Path) -> None:
    # Left open by the console's first version (SECURITY.md): a code seen over a shoulder or
    # in a proxy log could log in again within its 30-second window.
    engine = open_database(f"sqlite:///{tmp_path / 'console.db'}")
    wang = users.add_user(engine, name="wang", role="checker", password="a-long-password",
                          by="test")
    code = pyotp.TOTP(users.totp_secret(engine, wang.id)).now()
    assert users.check_totp(engine, wang.id, code)
    assert not users.check_totp(engine, wang.id, code)  # the same code, again
    assert not users.check_totp(engine, wang.id, "000000" if code != "000000" else "111111")


def test_an_earlier_code_is_refused_after_a_later_one(tmp_path: Path) -> None:
    engine = open_database(f"sqlite:///{tmp_path / 'console.db'}")
    li = users.add_user(engine, name="li", role="admin", password="a-long-password", by="test")
    totp = pyotp.TOTP(users.totp_secret(engine, li.id))
    now = now_s() // totp.interval
    previous = totp.at(for_time=(now - 1) * totp.interval)
    current = totp.at(for_time=now * totp.interval)
    if previous == current:
        return  # one chance in a million: the two steps share a code
    assert users.check_totp(engine, li.id, current)
    assert not users.check_totp(engine, li.id, previous)  # still within the window, but older
