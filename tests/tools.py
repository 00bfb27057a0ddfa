"""Tests that need a program installed on the machine (etcd, Chromium)."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest


def need_tool(find: Callable[[], object], missing: type[Exception]) -> None:
    """Skip the calling test when `find` raises `missing` (fail instead under CI).

    CI installs every tool (.ci/run), so there a missing one is an error,
    never a silently skipped test.
    """
    try:
        find()
    except missing as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(exc))
