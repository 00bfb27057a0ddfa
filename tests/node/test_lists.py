"""Lists with filters, and ids resolved from a prefix, as each member may see them.

One node (on SQLite and on PostgreSQL) serves the module with this story:

    b1 grants core a line, b1 grants core2 another;
    core issues `r1` (matures 2026-04-05) to s1, who accepts; s1 pays s3 a part;
    core issues `r2` (2026-05-05) to s2, who accepts;
    core issues `r3` (2026-04-05) to s1, still pending;
    core2 issues `c1` (2026-04-05) to s1, who accepts;
    s3 asks b2 to finance its note (`f1`, requested);
    s2 asks b1 to finance r2 (`f2`), and b1 offers terms;
    s1 asks b2 to finance the rest of r1 (`f3`), and b2 cancels.

s4 has no part in any of it; the auditor sees everything.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from client.sdk.http import NodeError
from client.sdk.participant import Participant
from tests.node.support import error_of, grant_line, issue_accepted, issue_args, outputs, raw
from tests.nodes import RunningNode, running_node
from tests.pg import new_database

pytestmark = pytest.mark.postgres


@dataclass
class Story:
    """The module's node, its participants and the ids of everything in the story."""

    n: RunningNode
    people: dict[str, Participant]
    ids: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Participant:
        return self.people[name]

    def uscc(self, name: str) -> str:
        return self.n.orgs[name].uscc

    def names(self, records: list[dict[str, Any]]) -> list[str]:
        """Return the story names of `records`' ids, in their order."""
        by_id = {v: k for k, v in self.ids.items()}
        return [by_id[r["id"]] for r in records]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def story(request: pytest.FixtureRequest,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    tmp = tmp_path_factory.mktemp(f"lists-{request.param}")
    url = new_database(request.getfixturevalue("postgres_url"), "lists") if (
        request.param == "postgresql") else None
    with running_node(tmp, database_url=url, verifier_processes=0) as n:
        s = Story(n, {name: n.participant(name) for name in n.orgs})
        _play(s)
        yield s
        for person in s.people.values():
            person.close()


def _play(s: Story) -> None:
    n, ids = s.n, s.ids
    ids["line"] = grant_line(n)
    ids["line2"] = grant_line(n, core="core2")
    ids["r1"] = issue_accepted(n, ids["line"])
    out = outputs(s["s1"].transfer(ids["r1"], [(s.uscc("s3"), 10_000_000)]))
    ids["s3_note"], ids["s1_rest"] = out[s.uscc("s3")], out[s.uscc("s1")]
    r2 = s["core"].act("issue", **{**issue_args(n, ids["line"], "s2"),
                                   "maturity_date": "2026-05-05"})
    ids["r2"] = r2["events"][0]["receivable"]
    s["s2"].accept(ids["r2"])
    ids["issue_r3"] = (r3 := s["core"].act("issue", **issue_args(n, ids["line"])))["tx_id"]
    ids["r3"] = r3["events"][0]["receivable"]
    ids["c1"] = issue_accepted(n, ids["line2"], core="core2")
    ids["f1"] = s["s3"].request_financing(ids["s3_note"], s.uscc("b2"))["events"][0]["financing"]
    ids["f2"] = s["s2"].request_financing(ids["r2"], s.uscc("b1"))["events"][0]["financing"]
    s["b1"].offer_terms(ids["f2"], annual_rate_percent="3.00", funding_date="2026-01-05")
    ids["f3"] = s["s1"].request_financing(ids["s1_rest"], s.uscc("b2"))["events"][0]["financing"]
    s["b2"].cancel_financing(ids["f3"])


def _status(call: Any, **params: Any) -> tuple[int, str]:
    try:
        call(**params)
    except NodeError as exc:
        return exc.status, exc.detail
    return 200, ""


# -- credentials -------------------------------------------------------------------------


def test_an_issuer_lists_what_it_issued_by_maturity(story: Story) -> None:
    core = story["core"]
    listed = core.receivables()
    assert story.names(listed) == [*sorted(["r1", "r3"], key=story.ids.get), "r2"]
    assert all("live" in r and "trade" in r for r in listed)  # the issuer's whole records
    assert story.names(core.receivables(status="pending")) == ["r3"]
    assert story.names(core.receivables(maturity_from="2026-05-01")) == ["r2"]
    assert set(story.names(core.receivables(maturity_to="2026-04-30"))) == {"r1", "r3"}
    assert story.names(core.receivables(maturity_from="2026-04-05",
                                        maturity_to="2026-04-05", status="active")) == ["r1"]
    assert story.names(core.receivables(role="issued", counterparty=story.uscc("s2"))) == ["r2"]
    assert core.receivables(role="held") == []
    assert story.names(core.receivables(limit=1)) == story.names(listed)[:1]


def test_a_holder_lists_what_it_holds_or_held_as_its_branch(story: Story) -> None:
    s1 = story["s1"]
    assert set(story.names(s1.receivables())) == {"r1", "r3", "c1"}
    assert story.names(s1.receivables(role="held", counterparty=story.uscc("core2"))) == ["c1"]
    assert s1.receivables(role="issued") == []
    for record in s1.receivables():
        assert "live" not in record and "paid" not in record
        assert "trade" in record  # s1 is the first holder of all three
    s3_view = story["s3"].receivables()
    assert story.names(s3_view) == ["r1"]
    assert "trade" not in s3_view[0]  # not s3's sales
    assert story["s4"].receivables() == []
    assert story["b1"].receivables() == []  # lending the line shows no credential


def test_the_auditor_lists_every_credential_and_filters_by_party(story: Story) -> None:
    auditor = story["auditor"]
    assert set(story.names(auditor.receivables())) == {"r1", "r2", "r3", "c1"}
    assert story.names(auditor.receivables(counterparty=story.uscc("core2"))) == ["c1"]
    assert story.names(auditor.receivables(role="held", counterparty=story.uscc("s3"))) == ["r1"]
    assert set(story.names(auditor.receivables(role="issued",
                                               counterparty=story.uscc("core")))) == {
        "r1", "r2", "r3"}
    assert all("live" in r for r in auditor.receivables())


# -- financings and credit lines ------------------------------------------------------------


def test_financings_are_listed_to_their_parties_with_the_note(story: Story) -> None:
    for who, expected in (("s3", {"f1"}), ("b2", {"f1", "f3"}), ("s2", {"f2"}),
                          ("b1", {"f2"}), ("s1", {"f3"}), ("core", set()), ("s4", set())):
        assert set(story.names(story[who].financings())) == expected, who
    f1 = story["b2"].financings(status="requested")[0]
    assert f1["note"]["id"] == story.ids["s3_note"]
    assert f1["note"]["amount"] == 10_000_000
    assert story["s1"].financings()[0]["note"]["id"] == story.ids["s1_rest"]
    cancelled = story["b2"].financings(status="cancelled")
    assert story.names(cancelled) == ["f3"]
    assert cancelled[0]["note"] is None  # no longer asked: the bank no longer sees the note
    assert story.names(story["b1"].financings(status="offered")) == ["f2"]
    assert story["b1"].financings(status="requested") == []
    assert story.names(story["b1"].financings(counterparty=story.uscc("s2"))) == ["f2"]
    assert story["b1"].financings(counterparty=story.uscc("s3")) == []
    auditor = story["auditor"]
    assert story.names(auditor.financings()) == [  # by note maturity, then id
        *sorted(["f1", "f3"], key=story.ids.get), "f2"]
    assert story.names(auditor.financings(maturity_from="2026-05-01")) == ["f2"]
    assert set(story.names(auditor.financings(counterparty=story.uscc("b2")))) == {"f1", "f3"}


def test_credit_lines_are_listed_to_bank_and_core(story: Story) -> None:
    assert set(story.names(story["b1"].credit_lines())) == {"line", "line2"}
    assert story.names(story["core"].credit_lines()) == ["line"]
    assert story.names(story["core2"].credit_lines(status="open")) == ["line2"]
    assert story.names(story["b1"].credit_lines(counterparty=story.uscc("core2"))) == ["line2"]
    assert story["b1"].credit_lines(status="expired") == []
    assert story["b1"].credit_lines(maturity_to="2026-12-30") == []
    assert story["s1"].credit_lines() == [] and story["b2"].credit_lines() == []
    assert len(story["auditor"].credit_lines()) == 2


def test_notes_filter_by_maturity(story: Story) -> None:
    core = story["core"]
    later = core.notes(issuer=story.uscc("core"), maturity_from="2026-04-06")
    assert {n["root_id"] for n in later} == {story.ids["r2"]}
    earlier = core.notes(issuer=story.uscc("core"), maturity_to="2026-04-05")
    assert {n["root_id"] for n in earlier} == {story.ids["r1"], story.ids["r3"]}
    assert story["s1"].notes(maturity_from="2026-04-06") == []  # s1's own holdings
    assert story["s1"].holdings() != []


@pytest.mark.parametrize(("call", "params", "named"), [
    ("receivables", {"maturity_from": "2026-02-30"}, "maturity_from"),
    ("receivables", {"maturity_to": "2026-4-5"}, "maturity_to"),
    ("receivables", {"maturity_from": "2026-05-01", "maturity_to": "2026-04-01"},
     "maturity_from"),
    ("receivables", {"role": "owned"}, "role"),
    ("receivables", {"status": "lost"}, "status"),
    ("receivables", {"counterparty": "nobody"}, "counterparty"),
    ("receivables", {"limit": 0}, "limit"),
    ("financings", {"status": "open"}, "status"),
    ("credit_lines", {"status": "offered"}, "status"),
    ("credit_lines", {"limit": 10_001}, "limit"),
    ("notes", {"maturity_to": "tomorrow"}, "maturity_to"),
])
def test_a_bad_filter_is_a_400_naming_it(story: Story, call: str, params: dict[str, Any],
                                         named: str) -> None:
    status, detail = _status(getattr(story["s1"], call), **params)
    assert status == 400
    assert named in detail


# -- ids from a prefix ----------------------------------------------------------------------


def test_a_prefix_resolves_to_every_kind_the_caller_may_see(story: Story) -> None:
    r1 = story.ids["r1"]
    matches = story["s1"].resolve_ids(r1[:8])
    assert {"kind": "note", "id": r1} in matches
    assert {"kind": "receivable", "id": r1} in matches
    assert story["s1"].resolve_ids(r1[:12].upper(), ["receivable"]) == [
        {"kind": "receivable", "id": r1}]
    assert story["s1"].resolve_ids(r1, ["tx", "financing"]) == []
    tx = story.ids["issue_r3"]
    assert story["s1"].resolve_ids(tx[:10], ["tx"]) == [{"kind": "tx", "id": tx}]
    f1 = story.ids["f1"]
    assert story["b2"].resolve_ids(f1[:9]) == [{"kind": "financing", "id": f1}]
    line = story.ids["line"]
    assert story["core"].resolve_ids(line[:16], ["credit_line", "note"]) == [
        {"kind": "credit_line", "id": line}]


def test_an_id_the_caller_may_not_see_is_never_resolved(story: Story) -> None:
    ids = story.ids
    for who, hidden in (("s4", "r1"), ("s2", "r1"), ("core", "f1"), ("b1", "f1"),
                        ("s4", "issue_r3"), ("s2", "line"), ("b2", "r3")):
        assert story[who].resolve_ids(ids[hidden][:8]) == [], (who, hidden)
    everything = {m["kind"] for key in ("r1", "f1", "line", "issue_r3")
                  for m in story["auditor"].resolve_ids(ids[key][:8])}
    assert everything == {"note", "receivable", "financing", "credit_line", "tx"}


@pytest.mark.parametrize("prefix, kinds", [
    ("abc", ()), ("0123456", ()), ("0123456z", ()), ("a" * 65, ()), ("01234567", ("block",)),
])
def test_a_bad_prefix_or_kind_is_a_400(story: Story, prefix: str, kinds: tuple[str, ...]) -> None:
    with pytest.raises(NodeError) as info:
        story["s1"].resolve_ids(prefix, kinds)
    assert info.value.status == 400
    assert ("kind" if kinds else "prefix") in info.value.detail


@pytest.mark.parametrize("query", [
    "/v1/inbox?within_days=0&within_days=30", "/v1/receivables?limit=x&limit=5",
    "/v1/records/financing?status=open&status=requested", "/v1/notes?limit=%5B%5D&limit=5",
    "/v1/log/checkpoint?height=%5B%5D&height=0", "/v1/blocks?limit=x&limit=5",
    "/v1/events?after=%5B%5D&after=1",
])
def test_a_query_parameter_given_twice_is_a_400_naming_it(story: Story, query: str) -> None:
    # Found by schemathesis on any route: the last value counted, so an invalid first one
    # was accepted (a schema-violating request answered 200).
    code, detail = error_of(raw(story.n, story.n.orgs["s1"], "GET", query), 400)
    assert code == "bad_request"
    assert query.rsplit("&", 1)[1].split("=")[0] in detail


def test_kind_may_be_repeated_on_id_resolution(story: Story) -> None:
    r1 = story.ids["r1"]
    response = raw(story.n, story.n.orgs["s1"], "GET", f"/v1/ids/{r1[:8]}?kind=note&kind=tx")
    assert response.status_code == 200
    assert response.json()["matches"] == [{"kind": "note", "id": r1}]


@pytest.mark.parametrize("query", [
    "/v1/log/leaf/%2B0.0", "/v1/log/leaf/0.0", "/v1/log/leaf/1_0", "/v1/log/leaf/%200",
    "/v1/log/checkpoint?height=%2B1", "/v1/blocks?limit=5.0", "/v1/blocks/%2B0",
    "/v1/events?after=-1.0", "/v1/receivables?limit=1e2", "/v1/inbox?within_days=%2030",
])
def test_an_integer_not_written_in_plain_digits_is_a_400_naming_it(story: Story,
                                                                    query: str) -> None:
    # Found by schemathesis: pydantic reads '+0.0' (and '1_0', ' 0', '5.0') as an integer,
    # so /v1/log/leaf/+0.0 answered 200 to a request the document calls invalid.
    code, detail = error_of(raw(story.n, story.n.orgs["s1"], "GET", query), 400)
    assert code == "bad_request"
    name = query.split("?")[1].split("=")[0] if "?" in query else \
        {"log": "index", "blocks": "height"}[query.split("/")[2]]
    assert name in detail and "digits" in detail


@pytest.mark.parametrize("query", ["/v1/log/leaf/0", "/v1/events?after=-1",
                                   "/v1/blocks?limit=007"])
def test_plain_integers_are_still_read(story: Story, query: str) -> None:
    assert raw(story.n, story.n.orgs["s1"], "GET", query).status_code == 200
