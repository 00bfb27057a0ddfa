"""Who sees what: a participant sees only what it holds, held, issued or financed.

One node serves the module with this story, built over HTTP:

    core issues `root` (1,000,000.00) to s1, who accepts it;
    s1 pays s2 300,000.00       -> s2_note, s1 keeps s1_rest;
    s2 pays s3 100,000.00       -> s3_note, s2 keeps s2_rest;
    s3 has b2 finance s3_note   -> b2 holds b2_note;
    core issues `other` to s4 (still pending acceptance).

s1..s4 hold notes, core issued everything, b1 lent the credit line, b2 financed,
core2 and b1 are outsiders to the notes, the auditor sees everything.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest

from client.sdk.http import NodeError
from client.sdk.participant import Participant
from ledger.crypto import PrivateKey
from ledger.membership import make_uscc
from tests.node.support import (
    FACE,
    envelope,
    error_of,
    grant_line,
    issue_accepted,
    issue_args,
    outputs,
    raw,
    signed_headers,
)
from tests.nodes import RunningNode, running_node

NOT_FOUND = 404


@dataclass
class Story:
    """The module's node, its participants and the ids of everything in the story."""

    n: RunningNode
    people: dict[str, Participant]
    ids: dict[str, str] = field(default_factory=dict)
    txs: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Participant:
        return self.people[name]

    def uscc(self, name: str) -> str:
        return self.n.orgs[name].uscc


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    with running_node(tmp_path_factory.mktemp("permissions")) as n:
        people = {name: n.participant(name) for name in n.orgs}
        s = Story(n, people)
        s.ids["line"] = grant_line(n)
        s.ids["root"] = root = issue_accepted(n, s.ids["line"])
        r = s["s1"].transfer(root, [(s.uscc("s2"), 30_000_000)])
        s.txs["s1_to_s2"] = r["tx_id"]
        out = outputs(r)
        s.ids["s2_note"], s.ids["s1_rest"] = out[s.uscc("s2")], out[s.uscc("s1")]
        r = s["s2"].transfer(s.ids["s2_note"], [(s.uscc("s3"), 10_000_000)])
        s.txs["s2_to_s3"] = r["tx_id"]
        out = outputs(r)
        s.ids["s3_note"], s.ids["s2_rest"] = out[s.uscc("s3")], out[s.uscc("s2")]
        r = s["s3"].request_financing(s.ids["s3_note"], s.uscc("b2"))
        s.ids["financing"] = fid = r["events"][0]["financing"]
        offered = s["b2"].offer_terms(fid, annual_rate_percent="2.00",
                                      funding_date="2026-01-05", recourse=True)
        r = s["s3"].accept_terms(fid, offered["events"][0]["terms_hash"])
        s.txs["financed"] = r["tx_id"]
        s.ids["b2_note"] = r["events"][0]["bank_note"]
        r = s["core"].act("issue", **issue_args(n, s.ids["line"], "s4"))
        s.txs["issue_other"] = r["tx_id"]
        s.ids["other"] = r["events"][0]["receivable"]
        yield s
        for person in people.values():
            person.close()


def status_of(call: Any, *args: Any) -> int:
    """Return 200 if `call(*args)` answers, else the NodeError status."""
    try:
        call(*args)
    except NodeError as exc:
        return exc.status
    return 200


TREE = ["root", "s1_rest", "s2_note", "s2_rest", "s3_note", "b2_note"]


# -- notes -------------------------------------------------------------------------------


def test_a_holder_sees_its_own_notes(story: Story) -> None:
    note = story["s2"].note(story.ids["s2_rest"])
    assert note["holder"] == story.uscc("s2")
    assert note["amount"] == 20_000_000
    mine = {x["id"] for x in story["s2"].holdings(status=None)}
    assert mine == {story.ids["s2_note"], story.ids["s2_rest"]}
    listed = story["s2"].node.get("/v1/notes")["notes"]  # holder defaults to the caller
    assert {x["id"] for x in listed} == mine


def test_a_supplier_cannot_read_another_holders_note(story: Story) -> None:
    with pytest.raises(NodeError) as info:
        story["s2"].note(story.ids["s1_rest"])
    assert info.value.status == NOT_FOUND
    with pytest.raises(NodeError) as unknown:
        story["s2"].note("cd" * 32)
    # An invisible note and a missing one are indistinguishable.
    assert info.value.code == unknown.value.code == "not_found"
    assert info.value.detail == f"note {story.ids['s1_rest']} not found"


@pytest.mark.parametrize("note, allowed", [
    ("s1_rest", {"s1", "core", "auditor"}),
    ("s3_note", {"s3", "core", "auditor"}),
    ("b2_note", {"b2", "core", "auditor"}),
    ("s2_note", {"s2", "core", "auditor"}),  # spent: s2 held it
    ("root", {"s1", "core", "auditor"}),  # spent: s1 held it
])
def test_who_may_read_a_note(story: Story, note: str, allowed: set[str]) -> None:
    seen = {name for name, p in story.people.items()
            if status_of(p.note, story.ids[note]) == 200}
    assert seen == allowed


def test_a_previous_holder_still_sees_what_it_held(story: Story) -> None:
    root = story["s1"].note(story.ids["root"])
    assert root["status"] == "spent"
    assert root["holder"] == story.uscc("s1")
    history = {x["id"] for x in story["s1"].holdings(status=None)}
    assert history == {story.ids["root"], story.ids["s1_rest"]}
    assert {x["id"] for x in story["s1"].holdings()} == {story.ids["s1_rest"]}


@pytest.mark.parametrize("query", [
    {"holder": "s1"}, {"issuer": "core"}, {"holder": "s1", "status": "active"},
    {"issuer": "core2"},
])
def test_listing_someone_elses_notes_is_403(story: Story, query: dict[str, str]) -> None:
    params = {k: (story.uscc(v) if k in ("holder", "issuer") else v) for k, v in query.items()}
    with pytest.raises(NodeError) as info:
        story["s2"].notes(**params)
    assert info.value.status == 403
    assert info.value.code == "forbidden"
    assert "only your own" in info.value.detail


def test_a_filter_naming_the_caller_does_not_leak_others(story: Story) -> None:
    # s2 names itself as issuer: allowed, but only notes s2 issued (none) come back.
    notes = story["s2"].notes(holder=story.uscc("s1"), issuer=story.uscc("s2"))
    assert notes == []


def test_the_issuer_lists_everything_it_issued(story: Story) -> None:
    issued = {x["id"] for x in story["core"].notes(issuer=story.uscc("core"))}
    assert issued == {story.ids[k] for k in TREE} | {story.ids["other"]}
    held_by_s3 = story["core"].notes(issuer=story.uscc("core"), holder=story.uscc("s3"))
    assert {x["id"] for x in held_by_s3} == {story.ids["s3_note"]}


def test_the_auditor_lists_anyones_notes(story: Story) -> None:
    notes = story["auditor"].notes(holder=story.uscc("s1"))
    assert {x["id"] for x in notes} == {story.ids["root"], story.ids["s1_rest"]}


# -- the receivable tree and lineage ----------------------------------------------------------


def test_the_issuer_sees_the_whole_tree(story: Story) -> None:
    view = story["core"].receivable(story.ids["root"])
    assert view["receivable"]["issuer"] == story.uscc("core")
    assert {x["id"] for x in view["notes"]} == {story.ids[k] for k in TREE}
    for key in TREE:
        assert story["core"].note(story.ids[key])["id"] == story.ids[key]


@pytest.mark.parametrize("who, visible", [
    ("s1", {"root", "s1_rest"}),
    ("s2", {"root", "s2_note", "s2_rest"}),
    ("s3", {"root", "s2_note", "s3_note"}),
    ("b2", {"root", "s2_note", "s3_note", "b2_note"}),
    ("auditor", set(TREE)),
])
def test_a_holder_sees_its_branch_of_the_tree(story: Story, who: str, visible: set[str]) -> None:
    view = story[who].receivable(story.ids["root"])
    assert {x["id"] for x in view["notes"]} == {story.ids[k] for k in visible}


@pytest.mark.parametrize("who", ["s4", "b1", "core2"])
def test_outsiders_do_not_see_the_tree(story: Story, who: str) -> None:
    with pytest.raises(NodeError) as info:
        story[who].receivable(story.ids["root"])
    assert info.value.status == NOT_FOUND


def test_lineage_of_a_visible_note_includes_its_ancestors(story: Story) -> None:
    chain = [x["id"] for x in story["b2"].lineage(story.ids["b2_note"])]
    assert chain == [story.ids[k] for k in ("b2_note", "s3_note", "s2_note", "root")]
    chain = [x["id"] for x in story["s3"].lineage(story.ids["s3_note"])]
    assert chain == [story.ids[k] for k in ("s3_note", "s2_note", "root")]
    assert [x["id"] for x in story["s1"].lineage(story.ids["root"])] == [story.ids["root"]]


@pytest.mark.parametrize("who", ["s1", "s4", "b1", "core2"])
def test_lineage_of_an_invisible_note_is_404(story: Story, who: str) -> None:
    with pytest.raises(NodeError) as info:
        story[who].lineage(story.ids["s3_note"])
    assert info.value.status == NOT_FOUND


@pytest.mark.parametrize("kind, key, allowed", [
    ("credit_line", "line", {"b1", "core", "auditor"}),
    ("financing", "financing", {"s3", "b2", "auditor"}),
])
def test_who_may_read_a_record(story: Story, kind: str, key: str, allowed: set[str]) -> None:
    seen = {name for name, p in story.people.items()
            if status_of(p.record, kind, story.ids[key]) == 200}
    assert seen == allowed


def test_every_member_sees_the_member_list(story: Story) -> None:
    for person in story.people.values():
        members = person.node.get("/v1/members")["members"]
        assert {m["uscc"] for m in members} == {o.uscc for o in story.n.orgs.values()}


# -- transactions, log and events -----------------------------------------------------------


@pytest.mark.parametrize("tx, allowed", [
    ("s1_to_s2", {"s1", "s2", "core", "auditor"}),
    ("s2_to_s3", {"s2", "s3", "core", "auditor"}),
    ("financed", {"s3", "b2", "core", "auditor"}),
    ("issue_other", {"core", "s4", "b1", "auditor"}),
])
def test_transaction_status_is_for_parties_only(story: Story, tx: str, allowed: set[str]) -> None:
    tx_id = story.txs[tx]
    seen = {name for name, p in story.people.items()
            if status_of(p.transaction, tx_id) == 200}
    assert seen == allowed
    proofs = {name for name, p in story.people.items()
              if status_of(p.node.get, f"/v1/log/inclusion/{tx_id}") == 200}
    assert proofs == allowed
    index = story["auditor"].transaction(tx_id)["log_index"]
    leaves = {name for name, p in story.people.items()
              if status_of(p.node.get, f"/v1/log/leaf/{index}") == 200}
    assert leaves == allowed


def test_a_party_verifies_its_transaction_is_in_the_log(story: Story) -> None:
    story["s3"].verify_inclusion(story.txs["s2_to_s3"])


def test_events_feed_holds_only_the_callers_transactions(story: Story) -> None:
    for name, person in story.people.items():
        feed = person.events(limit=1000)
        assert feed, f"{name} sees not even the genesis"
        for item in feed:
            assert status_of(person.transaction, item["tx_id"]) == 200
        if name != "auditor":
            mine = {item["tx_id"] for item in feed}
            others = set(story.txs.values()) - mine
            for tx_id in others:
                assert status_of(person.transaction, tx_id) == NOT_FOUND
    s2_feed = {item["tx_id"] for item in story["s2"].events()}
    assert {story.txs["s1_to_s2"], story.txs["s2_to_s3"]} <= s2_feed
    assert story.txs["financed"] not in s2_feed


def test_auditor_sees_everything(story: Story) -> None:
    auditor = story["auditor"]
    for key in [*TREE, "other"]:
        assert auditor.note(story.ids[key])["id"] == story.ids[key]
    for tx_id in story.txs.values():
        assert auditor.transaction(tx_id)["status"] == "committed"
    height = auditor.status()["height"]
    seen = set()
    for h in range(height + 1):
        block = auditor.node.get(f"/v1/blocks/{h}")
        assert len(block["transactions"]) == block["header"]["tx_count"]
        seen.update(t["tx_id"] for t in block["transactions"])
        for t in block["transactions"]:
            assert set(t["envelope"]) == {"body", "signatures"}
    assert set(story.txs.values()) <= seen


@pytest.mark.parametrize("who", ["s1", "core", "b1"])
def test_non_auditors_get_block_headers_without_transactions(story: Story, who: str) -> None:
    height = story[who].status()["height"]
    for h in range(height + 1):
        block = story[who].node.get(f"/v1/blocks/{h}")
        assert set(block) == {"hash", "header"}
        assert block == {k: v for k, v in story["auditor"].node.get(f"/v1/blocks/{h}").items()
                         if k != "transactions"}
    listed = story[who].node.get("/v1/blocks")["blocks"]
    assert all(set(b) == {"hash", "header"} for b in listed)
    assert len(listed) == height + 1


# -- strangers ----------------------------------------------------------------------------

STRANGER_KEY = PrivateKey(bytes(range(1, 33)))
STRANGER = make_uscc("91310000MA7777777")


@pytest.mark.parametrize("method, path", [
    ("GET", "/v1/status"),
    ("GET", "/v1/members"),
    ("GET", "/v1/notes"),
    ("GET", "/v1/notes/{root}"),
    ("GET", "/v1/notes/{root}/lineage"),
    ("GET", "/v1/receivables/{root}"),
    ("GET", "/v1/records/credit_line/{line}"),
    ("GET", "/v1/transactions/{tx}"),
    ("GET", "/v1/blocks"),
    ("GET", "/v1/blocks/0"),
    ("GET", "/v1/events"),
    ("GET", "/v1/log/checkpoint"),
    ("GET", "/v1/log/checkpoint?height=0"),
    ("GET", "/v1/nodes"),
    ("GET", "/v1/log/inclusion/{tx}"),
    ("GET", "/v1/log/consistency?first=1"),
    ("GET", "/v1/log/leaf/0"),
    ("POST", "/v1/transactions"),
    ("POST", "/v1/admin/clock"),
])
def test_a_stranger_gets_401_everywhere(story: Story, method: str, path: str) -> None:
    n = story.n
    target = path.format(root=story.ids["root"], line=story.ids["line"],
                         tx=story.txs["s1_to_s2"])
    body = b""
    if method == "POST":
        env = envelope(n, ["s1"], "receivable", "transfer", {"note": story.ids["s1_rest"],
                       "payments": [{"to": story.uscc("s4"), "amount": FACE // 100}]})
        body = orjson.dumps(env.to_json()) if "transactions" in target else b'{"days": 1}'
    before = (n.clock.now(), n.service.chain.head.height, len(n.service.mempool.pending))
    headers = signed_headers(n, n.orgs["s1"], method, target, body, key=STRANGER_KEY,
                             uscc=STRANGER)
    response = httpx.request(method, n.url + target, content=body, headers=headers)
    error, detail = error_of(response, 401)
    assert error == "unauthenticated"
    assert STRANGER in detail
    assert (n.clock.now(), n.service.chain.head.height, len(n.service.mempool.pending)) == before


def test_a_stranger_may_still_ask_for_health(story: Story) -> None:
    response = raw(story.n, None, "GET", "/v1/health")
    assert response.status_code == 200
    assert response.json()["ok"] is True


def test_the_bank_asked_to_finance_sees_the_note_it_prices(story: Story) -> None:
    s2, b1 = story["s2"], story["b1"]
    note = story.ids["s2_rest"] if "s2_rest" in story.ids else s2.holdings()[0]["id"]
    assert status_of(b1.note, note) == NOT_FOUND
    requested = s2.request_financing(note, b1.uscc)
    financing = requested["events"][0]["financing"]
    try:
        assert b1.note(note)["financing"] == financing
        assert status_of(story["b2"].note, note) == NOT_FOUND  # a bank not asked sees nothing
    finally:
        s2.cancel_financing(financing)
    assert status_of(b1.note, note) == NOT_FOUND


# -- need to know inside a credential ------------------------------------------------------


@pytest.mark.parametrize("who", ["s2", "s3", "b2"])
def test_a_branch_holder_sees_neither_other_leaves_nor_payment_nor_invoices(
    story: Story, who: str
) -> None:
    """Found by the outside test: a tier-3 holder saw every live leaf, `paid` and the invoices."""
    record = story[who].receivable(story.ids["root"])["receivable"]
    assert {"live", "paid", "trade"}.isdisjoint(record), sorted(record)
    assert (record["id"], record["issuer"], record["face"]) == (
        story.ids["root"], story.uscc("core"), FACE)


def test_the_first_holder_sees_its_own_invoices_but_not_the_other_leaves(story: Story) -> None:
    record = story["s1"].receivable(story.ids["root"])["receivable"]
    assert record["trade"]["invoices"][0]["seller"] == story.uscc("s1")
    assert {"live", "paid"}.isdisjoint(record)


@pytest.mark.parametrize("who", ["core", "auditor"])
def test_the_issuer_and_auditors_see_the_whole_record(story: Story, who: str) -> None:
    record = story[who].receivable(story.ids["root"])["receivable"]
    assert {"live", "paid", "trade"} <= set(record)
    assert set(record["live"]) == {story.ids[k] for k in ("s1_rest", "s2_rest", "b2_note")}


# -- the whole matrix: every role on every read endpoint -----------------------------------

ROLES = ("core", "s1", "s2", "s3", "s4", "b1", "b2", "auditor", "core2")
EVERYONE = frozenset(ROLES)
PARTY_S1_S2 = {"s1", "s2", "core", "auditor"}


def _matrix(s: Story) -> list[tuple[str, str, set[str] | frozenset[str]]]:
    """Return (label, path, roles answered 200) for every read the node serves."""
    ids, txs, u = s.ids, s.txs, s.uscc
    index = s["auditor"].transaction(txs["s1_to_s2"])["log_index"]
    rows: list[tuple[str, str, set[str] | frozenset[str]]] = [
        ("note root", f"/v1/notes/{ids['root']}", {"s1", "core", "auditor"}),
        ("note s2_rest", f"/v1/notes/{ids['s2_rest']}", {"s2", "core", "auditor"}),
        ("note s3_note", f"/v1/notes/{ids['s3_note']}", {"s3", "core", "auditor"}),
        ("note b2_note", f"/v1/notes/{ids['b2_note']}", {"b2", "core", "auditor"}),
        ("note other", f"/v1/notes/{ids['other']}", {"s4", "core", "auditor"}),
        ("lineage b2_note", f"/v1/notes/{ids['b2_note']}/lineage", {"b2", "core", "auditor"}),
        ("lineage s1_rest", f"/v1/notes/{ids['s1_rest']}/lineage", {"s1", "core", "auditor"}),
        ("receivable root", f"/v1/receivables/{ids['root']}",
         {"s1", "s2", "s3", "b2", "core", "auditor"}),
        ("receivable other", f"/v1/receivables/{ids['other']}", {"s4", "core", "auditor"}),
        ("credit line", f"/v1/records/credit_line/{ids['line']}", {"b1", "core", "auditor"}),
        ("financing", f"/v1/records/financing/{ids['financing']}", {"s3", "b2", "auditor"}),
        ("issuer book", f"/v1/records/issuer/{u('core')}", {"core", "auditor"}),
        ("tx s1_to_s2", f"/v1/transactions/{txs['s1_to_s2']}", PARTY_S1_S2),
        ("tx financed", f"/v1/transactions/{txs['financed']}", {"s3", "b2", "core", "auditor"}),
        ("tx issue_other", f"/v1/transactions/{txs['issue_other']}",
         {"core", "s4", "b1", "auditor"}),
        ("inclusion s1_to_s2", f"/v1/log/inclusion/{txs['s1_to_s2']}", PARTY_S1_S2),
        ("leaf s1_to_s2", f"/v1/log/leaf/{index}", PARTY_S1_S2),
        ("holdings of s1", f"/v1/notes?holder={u('s1')}", {"s1", "auditor"}),
        ("issuance of core", f"/v1/notes?issuer={u('core')}", {"core", "auditor"}),
        ("export meta", "/v1/export/meta", {"auditor"}),
        ("export blocks", "/v1/export/blocks?from=0&limit=1", {"auditor"}),
    ]
    everyone = ["/v1/status", "/v1/members", "/v1/nodes", "/v1/blocks", "/v1/blocks/0",
                "/v1/events", "/v1/log/checkpoint", "/v1/log/consistency?first=1", "/v1/notes"]
    return rows + [(path, path, EVERYONE) for path in everyone]


def test_the_whole_role_endpoint_matrix(story: Story) -> None:
    """Each role asks each read endpoint; exactly the roles listed get an answer (else 403/404)."""
    wrong = []
    for label, path, allowed in _matrix(story):
        for role in ROLES:
            status = status_of(story[role].node.get, path)
            expected_ok = role in allowed
            if (status == 200) != expected_ok or status not in (200, 403, 404):
                wrong.append(f"{label}: {role} got {status}, expected "
                             f"{'200' if expected_ok else '403/404'}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("role", [r for r in ROLES if r not in ("core", "auditor")])
def test_no_role_reads_more_of_a_credential_than_its_branch(story: Story, role: str) -> None:
    """Wherever a non-issuer reads the credentials, no other holder's leaf id appears."""
    for key in ("root", "other"):
        try:
            view = story[role].receivable(story.ids[key])
        except NodeError as exc:
            assert exc.status == NOT_FOUND
            continue
        mine = {n["id"] for n in view["notes"]}
        served = orjson.dumps(view).decode()
        for other in ("s1_rest", "s2_rest", "s3_note", "b2_note"):
            if story.ids[other] not in mine:
                assert story.ids[other] not in served, f"{role} sees {other} of {key}"
