"""A throw-away etcd cluster for network tests: loopback, free ports, stopped by PID.

Members run mutual TLS with certificates from the session's test CA
(tests/pki.py), as `ledger network up` runs them; `etcd_context()` is a
client context a test can read and write the cluster with.

When etcd is not installed the tests that need it skip, except under CI,
where `.ci/run` installs etcd and a missing binary is a failure.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from client.local_consortium.etcd_cluster import (
    EtcdMember,
    EtcdMissing,
    etcd_binary,
    start_etcd_cluster,
    stop_members,
)
from tests.pki import shared_pki
from tests.tools import need_tool


def need_etcd() -> None:
    """Skip the calling test when etcd is not installed (fail instead under CI)."""
    need_tool(etcd_binary, RuntimeError)


def etcd_context() -> ssl.SSLContext:
    """Return a client context with a certificate from the test CA (as a node has)."""
    return shared_pki().node_context("etcd-test-client")


@contextmanager
def etcd_cluster(directory: Path, size: int = 3, *, tls: bool = True) -> Iterator[list[EtcdMember]]:
    """Run an etcd cluster of `size` members (TLS unless `tls` is False) during the block."""
    try:
        members = start_etcd_cluster(directory, size,
                                     certs=shared_pki().node_files if tls else None)
    except EtcdMissing as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(exc))
    try:
        yield members
    finally:
        stop_members(members, kill=True)
