"""Shared fixtures: Hypothesis profiles and a PostgreSQL server for storage tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from tests.pg import new_database, postgres_server

settings.register_profile(
    "ci", deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=False
)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Yield the URL of a PostgreSQL server started for this test session."""
    with postgres_server(Path(tmp_path_factory.mktemp("postgres"))) as url:
        yield url


@pytest.fixture
def fresh_postgres_url(postgres_url: str) -> Iterator[str]:
    """Yield the URL of a new, empty database on the session's server."""
    yield new_database(postgres_url)


@pytest.fixture
def etcd_members(tmp_path: Path) -> Iterator[list[Any]]:
    """Yield the members of a fresh 3-member etcd cluster (stopped afterwards)."""
    from tests.etcd import etcd_cluster

    with etcd_cluster(tmp_path / "etcd") as members:
        yield members
