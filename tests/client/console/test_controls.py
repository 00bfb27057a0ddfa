"""The console's controls, over HTTP against a real node and the console as a process.

A supplier's console (s1) runs `ledger console start` on its own SQLite
database (and, in one test, on PostgreSQL).  Checked here without a
browser: every POST without its CSRF token is refused with the 403 page and
changes nothing; a maker cannot approve (not even after becoming a checker,
what they prepared themselves); a viewer can neither prepare nor approve;
five wrong passwords lock an account, even against the right one, until
`ledger console user unlock`; another organisation's credential is the 404
page; the accept flow through maker and checker reaches the node; the
audit trail's export names who prepared, who approved and the tx id.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from client.console.pages import PAGES
from tests.client.console.support import (
    Browserless,
    Running,
    World,
    cli,
    make_world,
    running_console,
    write_settings,
)
from tests.nodes import running_node
from tests.pg import new_database, postgres_server


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("console")
    (folder / "node").mkdir()
    with running_node(folder / "node", verifier_processes=0) as node:
        yield make_world(node, folder)


@pytest.fixture(scope="module")
def console(world: World) -> Iterator[Running]:
    with running_console(write_settings(world, "controls")) as running:
        yield running


def _person(console: Running, name: str) -> Browserless:
    person = Browserless(console.url)
    answer = person.log_in(name)
    assert answer.status_code == 200 and str(answer.url).endswith("/"), answer.text
    return person


def _approval_ids(text: str) -> list[int]:
    return [int(i) for i in re.findall(r'id="approval-(\d+)"', text)]


def test_every_post_without_its_csrf_token_is_refused(world: World, console: Running) -> None:
    posts = [r.path for router in PAGES for r in router.routes
             if "POST" in getattr(r, "methods", ())]
    assert {"/login", "/logout", "/language", "/inbox/accept", "/approvals/{approval_id}/approve",
            "/users"} <= set(posts)
    admin = _person(console, "ada")
    before = admin.http.get("/audit/export.json").json()["audit_trail"]
    for path in posts:
        concrete = path.replace("{approval_id}", "1").replace("{user_id}", "1")
        answer = admin.http.post(concrete, data={"name": "x", "lang": "zh", "role": "viewer",
                                                 "receivable": world.to_s1})
        assert answer.status_code == 403, (path, answer.status_code)
        assert "did not carry a valid security token" in answer.text, path
        wrong = admin.http.post(concrete, data={"csrf_token": "0" * 43, "role": "viewer"})
        assert wrong.status_code == 403, path
    after = admin.http.get("/audit/export.json").json()["audit_trail"]
    assert [r for r in after if r["event"] != "exported"] == [
        r for r in before if r["event"] != "exported"]  # nothing changed
    assert admin.http.get("/").status_code == 200  # still logged in: logout was refused too


def test_a_maker_cannot_approve_and_a_viewer_cannot_act(world: World, console: Running) -> None:
    maker, viewer, checker = (_person(console, n) for n in ("mia", "vera", "chen"))
    refused = viewer.post("/inbox/accept", {"receivable": world.to_s1_second}, "/inbox")
    assert refused.status_code == 403 and "Only makers can prepare" in refused.text
    prepared = maker.post("/inbox/accept", {"receivable": world.to_s1_second}, "/inbox")
    assert prepared.status_code == 200 and "/approvals" in str(prepared.url)
    (approval_id,) = _approval_ids(prepared.text)
    assert f"/approvals/{approval_id}/approve" not in prepared.text  # no button for a maker
    for who in (maker, viewer):
        answer = who.post(f"/approvals/{approval_id}/approve", token_from="/approvals")
        assert answer.status_code == 403 and "Only checkers can approve" in answer.text
        answer = who.post(f"/approvals/{approval_id}/reject", {"reason": "no"}, "/approvals")
        assert answer.status_code == 403
    admin = _person(console, "ada")
    users_page = admin.http.get("/users").text
    row = users_page[users_page.index('id="user-mia"'):]
    mia = re.search(r'/users/(\d+)/role', row)
    assert mia is not None
    promoted = admin.post(f"/users/{mia.group(1)}/role", {"role": "checker"}, "/users")
    assert promoted.status_code == 200
    assert maker.http.get("/approvals").url.path == "/login"  # the role change ended her session
    maker = _person(console, "mia")
    own = maker.post(f"/approvals/{approval_id}/approve", token_from="/approvals")
    assert own.status_code == 403 and "what you prepared yourself" in own.text
    rejected = checker.post(f"/approvals/{approval_id}/reject", {"reason": "  "}, "/approvals")
    assert rejected.status_code == 403 and "needs a reason" in rejected.text
    rejected = checker.post(f"/approvals/{approval_id}/reject", {"reason": "wrong invoice"},
                            "/approvals")
    assert rejected.status_code == 200 and "wrong invoice" in rejected.text
    again = checker.post(f"/approvals/{approval_id}/approve", token_from="/approvals")
    assert again.status_code == 409
    admin.post(f"/users/{mia.group(1)}/role", {"role": "maker"}, "/users")
    assert world.node.participant("s1").receivable(world.to_s1_second)["receivable"][
        "status"] == "pending"  # nothing was signed


def test_five_wrong_passwords_lock_the_account_until_unlocked(world: World,
                                                             console: Running) -> None:
    person = Browserless(console.url)
    for _ in range(5):
        wrong = person.log_in("vera", "not her password")
        assert wrong.status_code == 401
    assert "Wrong user name or password" in wrong.text or "locked" in wrong.text
    locked = person.log_in("vera")
    assert locked.status_code == 401 and "the account is locked" in locked.text
    events = [r["event"] for r in _person(console, "ada").http.get(
        "/audit/export.json").json()["audit_trail"] if r["user"] == "vera"]
    assert "locked_out" in events and "login_refused_locked" in events
    assert events.count("login_failed") >= 5
    cli("console", "user", "unlock", "--config", str(world.folder / "controls.toml"),
        "--name", "vera")
    assert person.log_in("vera").url.path == "/"


def test_another_organisations_credential_is_not_found(world: World, console: Running) -> None:
    viewer = _person(console, "vera")
    own = viewer.http.get(f"/credentials/{world.to_s1}")
    assert own.status_code == 200 and world.to_s1 in own.text
    for path in (f"/credentials/{world.to_s2}", "/credentials/" + "0" * 64,
                 "/credentials/not-an-id", "/approvals/1/nothing", "/nowhere"):
        answer = viewer.http.get(path)
        assert answer.status_code in (404, 405), (path, answer.status_code)
        assert "Not found" in answer.text or "does not take" in answer.text
    assert world.to_s2 not in viewer.http.get("/inbox").text


def _accept_through_maker_and_checker(console: Running, receivable: str) -> int:
    maker, checker = _person(console, "max"), _person(console, "chen")
    prepared = maker.post("/inbox/accept", {"receivable": receivable}, "/inbox")
    assert prepared.status_code == 200, prepared.text
    approval_id = max(_approval_ids(prepared.text))
    twice = maker.post("/inbox/accept", {"receivable": receivable}, "/inbox")
    assert twice.status_code == 409  # one approval at a time per credential
    done = checker.post(f"/approvals/{approval_id}/approve", token_from="/approvals")
    assert done.status_code == 200 and "state=approved" in str(done.url), done.text
    return approval_id


def test_the_accept_flow_reaches_the_node_and_the_trail_says_who(world: World,
                                                                console: Running) -> None:
    approval_id = _accept_through_maker_and_checker(console, world.to_s1)
    assert world.node.participant("s1").receivable(world.to_s1)["receivable"][
        "status"] == "active"
    admin = _person(console, "ada")
    rows = list(csv.DictReader(io.StringIO(admin.http.get("/audit/export.csv").text)))
    approved = [r for r in rows if r["event"] == "approved" and r["approval"] == str(approval_id)]
    assert len(approved) == 1
    (row,) = approved
    assert row["prepared_by"] == "max" and row["approved_by"] == "chen"
    tx = world.node.participant("s1").transaction(row["tx_id"])
    assert tx["status"] == "committed"
    assert json.loads(tx["envelope"]["body"])["action"] == "accept"
    exported = admin.http.get("/audit/export.json").json()["audit_trail"]
    assert any(r["event"] == "prepared" and r["approval"] == approval_id and r["user"] == "max"
               for r in exported)
    assert _person(console, "vera").http.get("/audit").status_code == 403  # admins only


def test_the_console_runs_on_postgresql(world: World, tmp_path: Path) -> None:
    with postgres_server(tmp_path / "pg") as server:
        settings = write_settings(world, "on_pg", database_url=new_database(server, "console"))
        with running_console(settings) as console:
            refused = Browserless(console.url).log_in("chen", "wrong password!")
            assert refused.status_code == 401
            _accept_through_maker_and_checker(console, world.to_s1_second)
            trail = _person(console, "ada").http.get("/audit/export.json").json()
    assert world.node.participant("s1").receivable(world.to_s1_second)["receivable"][
        "status"] == "active"
    events = {r["event"] for r in trail["audit_trail"]}
    assert {"login_failed", "prepared", "approved", "user_added"} <= events

