"""Fixtures shared by the audit tests."""

from __future__ import annotations

import io

import pytest

from node.storage.chain_lines import export_database
from scripts.sample_chain import build_sample_chain


@pytest.fixture(scope="session")
def chain_file(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A sample chain (signed batches, certificates, a forged signature) as a chain file."""
    path = tmp_path_factory.mktemp("audit") / "node.db"
    build_sample_chain(f"sqlite:///{path}", transactions=150, lanes=15)
    out = io.BytesIO()
    export_database(f"sqlite:///{path}", out)
    return out.getvalue()
