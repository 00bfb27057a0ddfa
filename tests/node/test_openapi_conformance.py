"""The node does what its OpenAPI document says, for every role, on SQLite and PostgreSQL.

schemathesis generates requests for every operation of the document the node
serves (`/openapi.json`), valid ones and ones that break the document, and
sends them signed as a member (a core enterprise, a supplier, a bank, an
auditor in turn), to a node on SQLite and to one on PostgreSQL.  Every
answer must be no server error, carry a status, content type, headers and
body the document lists for that operation, and an invalid request must be
refused with a 4xx.  Operations are also fed the ids of real records, so
their success answers are checked too, and every path answers a method it
does not serve with 405 and an Allow header.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.parameters import ParameterLocation

from tests.builders import Org
from tests.node.support import grant_line, issue_accepted, signed_headers
from tests.nodes import RunningNode, running_node
from tests.pg import new_database

pytestmark = pytest.mark.postgres

ROLES = ("core", "s1", "b1", "auditor")
EXAMPLES = 12  # per operation, generation mode, role and backend
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance, negative_data_rejection]


class SignedAs(requests.auth.AuthBase):
    """Sign each request exactly as prepared (target and body as sent) for one member."""

    def __init__(self, node: RunningNode, org: Org) -> None:
        self.node = node
        self.org = org

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body or b""
        data = body.encode("utf-8") if isinstance(body, str) else bytes(body)
        request.headers.update(signed_headers(self.node, self.org, str(request.method),
                                              request.path_url, data))
        return request


@dataclass
class Served:
    """A node, the document it serves, and ids of records that exist on it."""

    node: RunningNode
    schema: Any
    ids: dict[str, str]




@pytest.fixture(scope="module", params=[
    "sqlite", pytest.param("postgresql", marks=pytest.mark.slow),  # the same API, a minute more
])
def served(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp(f"openapi-{request.param}")
    url = new_database(request.getfixturevalue("postgres_url"), "openapi") if (
        request.param == "postgresql") else None
    with running_node(tmp, database_url=url, verifier_processes=0) as n:
        line = grant_line(n)
        root = issue_accepted(n, line)
        tx_id = n.participant("s1").note(root)["created_tx"]
        schema = schemathesis.openapi.from_url(n.url + "/openapi.json")
        yield Served(n, schema, {"tx_id": tx_id, "note_id": root, "root_id": root,
                                 "record_id": line, "kind": "credit_line", "height": "1",
                                 "index": "1", "table": "state", "prefix": root[:8]})


def _operations(served: Served) -> list[Any]:
    return [result.ok() for result in served.schema.get_all_operations()]


def _session(served: Served, role: str) -> requests.Session:
    session = requests.Session()
    session.auth = SignedAs(served.node, served.node.orgs[role])
    return session


def _exercise(served: Served, operation: Any, role: str, strategy: Any,
              negative: bool = False) -> None:
    signed, unsigned = _session(served, role), requests.Session()

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def run(case: Any) -> None:
        # a case whose headers break the document leaves the signature out on purpose
        drop = case.meta is not None and case.meta.is_negative_at(ParameterLocation.HEADER)
        session = unsigned if drop else signed
        response = case.call(session=session, base_url=served.node.url, timeout=30)
        case.validate_response(response, checks=CHECKS)

    try:
        run()
    except Unsatisfiable:
        if not negative:
            raise  # nothing to break is possible only in negative mode (no parameters)
    finally:
        signed.close()
        unsigned.close()


@pytest.mark.parametrize("role", ROLES)
def test_every_operation_keeps_to_the_document(served: Served, role: str) -> None:
    operations = _operations(served)
    assert len(operations) >= 24
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _exercise(served, operation, role, operation.as_strategy(generation_mode=mode),
                      negative=mode is GenerationMode.NEGATIVE)


@pytest.mark.parametrize("role", ROLES)
def test_answers_about_real_records_keep_to_the_document(served: Served, role: str) -> None:
    for operation in _operations(served):
        names = {p.name for p in operation.path_parameters}
        if not names:
            continue
        known = {name: served.ids[name] for name in names}
        _exercise(served, operation, role, operation.as_strategy(path_parameters=known))


def test_a_method_a_path_does_not_serve_is_405_with_allow(served: Served) -> None:
    n = served.node
    document = httpx.get(n.url + "/openapi.json").json()
    for template, operations in document["paths"].items():
        path = template.format(**served.ids)
        served_methods = {m.upper() for m in operations}
        for method in {"GET", "POST", "PUT", "DELETE", "PATCH"} - served_methods:
            headers = signed_headers(n, n.orgs["s1"], method, path, b"")
            response = httpx.request(method, n.url + path, headers=headers)
            assert response.status_code == 405, (method, path, response.text)
            allowed = {m.strip() for m in response.headers["allow"].split(",")}
            assert served_methods <= allowed, (method, path, allowed)
            assert response.json()["error"]
