"""A throw-away etcd cluster for network tests: loopback, free ports, stopped by PID.

When etcd is not installed the tests that need it skip, except under CI,
where `.ci/run` installs etcd and a missing binary is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from client.etcd_cluster import EtcdMember, EtcdMissing, start_etcd_cluster, stop_members


@contextmanager
def etcd_cluster(directory: Path, size: int = 3) -> Iterator[list[EtcdMember]]:
    """Run an etcd cluster of `size` members for the duration of the block."""
    try:
        members = start_etcd_cluster(directory, size)
    except EtcdMissing as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(exc))
    try:
        yield members
    finally:
        stop_members(members, kill=True)
