"""SQLite and PostgreSQL nodes answer bad input alike: the same 4xx, and nothing stored changes.

Found by the outside test: PostgreSQL cannot hold a NUL character in text,
so ids, filters and signer names carrying one reached the database and came
back as a 500, where SQLite answered 404.  Now malformed ids and filters are
refused before any query (400 naming the parameter), the store never sends a
NUL to the database, and a signer must be a USCC before anything looks it up.
"""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest

from tests.node.support import error_of, raw, submit_raw, tx_body, wire_text
from tests.nodes import RunningNode, running_node
from tests.pg import new_database

pytestmark = pytest.mark.postgres

NUL_READS = [
    "/v1/transactions/%00",
    "/v1/transactions/%00x",
    "/v1/log/inclusion/%00",
    "/v1/notes/%00",
    "/v1/notes/%00/lineage",
    "/v1/receivables/%00",
    "/v1/records/credit_line/%00",
    "/v1/notes?status=%00",
    "/v1/notes?holder=%00",
    "/v1/notes?holder={self}&issuer=%00",
    "/v1/notes?issuer={self}&status=act%00ive",
    "/v1/notes?maturity_from=2026-01-0%00",
    "/v1/receivables?counterparty=%00",
    "/v1/receivables?maturity_to=%00",
    "/v1/records/financing?counterparty=%00",
    "/v1/records/credit_line?status=%00",
    "/v1/ids/0123456%00",
    "/v1/ids/01234567?kind=%00",
]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def node(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[RunningNode]:
    """A node on each backend (PostgreSQL: a fresh database on the session's server)."""
    tmp = tmp_path_factory.mktemp(f"backend-{request.param}")
    url = None
    if request.param == "postgresql":
        url = new_database(request.getfixturevalue("postgres_url"), "nul")
    with running_node(tmp, database_url=url, verifier_processes=0) as n:
        yield n


@pytest.mark.parametrize("path", NUL_READS)
def test_a_nul_in_an_id_or_filter_is_a_400_naming_the_parameter(node: RunningNode,
                                                                 path: str) -> None:
    target = path.format(self=node.orgs["s1"].uscc)
    code, detail = error_of(raw(node, node.orgs["s1"], "GET", target), 400)
    assert code == "bad_request"
    assert detail.startswith(("path.", "query.")), detail


def test_a_signer_named_with_a_nul_is_refused_before_any_lookup(node: RunningNode) -> None:
    body = tx_body(node, ["s1"], "receivable", "accept", {"receivable": "ab" * 32})
    text = orjson.dumps({**body.to_json(), "signers": ["\u0000x"]},
                        option=orjson.OPT_SORT_KEYS).decode()
    wire = wire_text(node, text, [])
    wire["signatures"] = [{"signer": "\u0000x", "sig": "A" * 86 + "=="}]
    before = node.service.chain.head.height
    code, detail = error_of(submit_raw(node, node.orgs["s1"], wire), 400)
    assert code == "bad_schema"
    assert "signer" in detail and "USCC" in detail
    assert node.service.chain.head.height == before
    assert not node.service.mempool.pending


def test_the_store_never_sends_a_nul_to_the_database(node: RunningNode) -> None:
    store = node.service.store
    assert store.tx("\x00") is None
    assert store.seen_tx_ids(["\x00", "ab" * 32]) == set()
    assert store.used_nonces({("\x00x", "00" * 16)}) == set()
    assert store.notes_where(holder="\x00") == []
    assert store.notes_where(status="act\x00ive") == []
    assert store.parties("\x00") == set()
    assert store.txs_for_party("\x00", -1, 10) == []
