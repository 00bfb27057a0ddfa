"""Error texts: what a sender gave is quoted back briefly and safely."""

from __future__ import annotations

import pytest

from ledger.errors import described


@pytest.mark.parametrize(("value", "text"), [
    ("RMB", "'RMB'"), ("", "''"), ("P\x00", "'P\\x00'"), ("x" * 41, "text of 41 characters"),
    ("发票", "'发票'"), (None, "null"), (True, "true"), (False, "false"), (-100, "-100"),
    (10**40, "a huge number"), ([1], "a list of 1 item"), ([], "a list of 0 items"),
    ({"a": 1}, "an object"),
])
def test_what_a_sender_gave_is_quoted_briefly_and_safely(value: object, text: str) -> None:
    assert described(value) == text
