"""One page per financing, at one address, over HTTP against a real node and its parties' consoles.

s1 asked b1 to finance a note (tests/client/console/bank_world.py).  The
seller's console (s1), the bank's (b1), another bank's (b2, no party) and
the auditor's run as processes.  `/financings/{id}` is the financing's
page in every console that may see it: what both parties see (the request,
its status in words, the terms once offered, the history), then the part
for the visitor's organisation and role.  Checked without a browser: the
old bank address answers a permanent redirect to it (its POSTs too); before
an offer the bank's maker has the terms form and the seller's nothing to
accept; once offered the seller's maker has Accept (of exactly the shown
terms' hash) and no terms form, the bank's maker the terms form and no
Accept; checkers and viewers of either have no action at all; another
organisation gets the 404 page, an auditor the shared part alone; each
side's POST from the other side is refused, preparing nothing; and the
explorer's search for the financing's id opens the page in any of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass

import pytest

from tests.client.console.bank_world import BankWorld, make_bank_world
from tests.client.console.support import Browserless, Running, running_console
from tests.nodes import registered_node

ACTION = re.compile(r'<form method="post" action="(/financings?/[^"]+)"')


@dataclass
class Consoles:
    """The world and a running console per organisation alias."""

    world: BankWorld
    by_org: dict[str, Running]

    def person(self, org: str, name: str) -> Browserless:
        """Return `name` logged in at `org`'s console."""
        person = Browserless(self.by_org[org].url)
        assert person.log_in(name).status_code == 200
        return person

    def actions(self, org: str, name: str) -> set[str]:
        """Return the forms `name` at `org` is offered on the financing's page, by last segment."""
        person = self.person(org, name)
        try:
            page = person.http.get(f"/financings/{self.world.financing}")
            assert page.status_code == 200, (org, name, page.status_code)
            return {a.rsplit("/", 1)[1] for a in ACTION.findall(page.text)}
        finally:
            person.close()


@pytest.fixture(scope="module")
def consoles(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Consoles]:
    folder = tmp_path_factory.mktemp("financing_page")
    with registered_node(folder / "node", 1) as node, ExitStack() as stack:
        world = make_bank_world(node, folder)
        running = {org: stack.enter_context(running_console(world.settings(org, "en")))
                   for org in ("s1", "b1", "b2", "auditor")}
        yield Consoles(world, running)


def test_the_old_address_redirects_permanently_to_the_one_page(consoles: Consoles) -> None:
    financing = consoles.world.financing
    for org in ("b1", "s1"):
        person = consoles.person(org, "vera")
        moved = person.http.get(f"/financing/{financing}", follow_redirects=False)
        assert moved.status_code == 301, (org, moved.status_code)
        assert moved.headers["location"] == f"/financings/{financing}"
        assert person.http.get(f"/financing/{financing}").url.path == f"/financings/{financing}"
        person.close()
    maker = consoles.person("b1", "mia")
    post = maker.http.post(f"/financing/{financing}/offer", follow_redirects=False,
                           data={"csrf_token": maker.token(f"/financings/{financing}")})
    assert post.status_code == 308  # a form of a page drawn before: sent on, method and all
    assert post.headers["location"] == f"/financings/{financing}/offer"
    maker.close()


def test_before_an_offer_the_bank_maker_has_the_terms_form_and_the_seller_nothing(
        consoles: Consoles) -> None:
    assert consoles.world.node.participant("s1").financing(
        consoles.world.financing)["status"] == "requested"
    assert consoles.actions("b1", "mia") == {"offer"}
    assert consoles.actions("s1", "mia") == set()
    bank = consoles.person("b1", "mia")
    page = bank.http.get(f"/financings/{consoles.world.financing}").text
    assert 'id="price-box"' in page and "/static/pricing.js" in page  # priced as typed
    assert 'id="lineage"' in page  # the bank's due diligence
    seller = consoles.person("s1", "mia")
    page = seller.http.get(f"/financings/{consoles.world.financing}").text
    assert "No terms offered yet." in page and 'id="lineage"' not in page
    assert "Requested" in page  # the status in words
    bank.close()
    seller.close()


def test_once_offered_the_seller_maker_may_accept_and_the_bank_maker_offer_again(
        consoles: Consoles) -> None:
    world = consoles.world
    bank = world.node.participant("b1")
    bank.offer_terms(world.financing, annual_rate_percent="2.00", funding_date="2026-01-05")
    terms_hash = bank.financing(world.financing)["terms_hash"]
    bank.close()
    assert consoles.actions("s1", "mia") == {"accept"}
    assert consoles.actions("b1", "mia") == {"offer"}
    seller = consoles.person("s1", "mia")
    page = seller.http.get(f"/financings/{world.financing}").text
    assert f'name="terms_hash" value="{terms_hash}"' in page
    assert "995,000.00 CNY" in page and "Terms offered" in page
    seller.close()


def test_checkers_viewers_and_auditors_have_no_action(consoles: Consoles) -> None:
    for org, name in (("s1", "chen"), ("s1", "vera"), ("b1", "chen"), ("b1", "vera"),
                      ("auditor", "mia")):
        assert consoles.actions(org, name) == set(), (org, name)
    auditor = consoles.person("auditor", "vera")
    page = auditor.http.get(f"/financings/{consoles.world.financing}").text
    assert consoles.world.financing in page and 'id="lineage"' not in page
    auditor.close()


def test_another_organisation_gets_the_not_found_page(consoles: Consoles) -> None:
    other = consoles.person("b2", "mia")
    for path in (f"/financings/{consoles.world.financing}",
                 f"/financing/{consoles.world.financing}", "/financings/" + "0" * 64,
                 "/financings/not-an-id"):
        answer = other.http.get(path)
        assert answer.status_code == 404 and "Not found" in answer.text, path
    other.close()


def test_each_side_is_refused_the_other_sides_action_and_nothing_is_prepared(
        consoles: Consoles) -> None:
    financing = consoles.world.financing
    page = f"/financings/{financing}"
    seller = consoles.person("s1", "mia")
    offer = seller.post(f"{page}/offer", {"rate": "2.00", "funding_date": "2026-01-05",
                                          "fees": "0", "fee_payer": "seller"}, page)
    assert offer.status_code == 403, offer.status_code  # s1 is not a bank
    bank = consoles.person("b1", "mia")
    accept = bank.post(f"{page}/accept", {"terms_hash": "0" * 64}, page)
    assert accept.status_code == 404, accept.status_code  # b1 is not the seller
    viewer = consoles.person("s1", "vera")
    record = consoles.world.node.participant("s1").financing(financing)
    refused = viewer.post(f"{page}/accept", {"terms_hash": record["terms_hash"]}, page)
    assert refused.status_code == 403 and "Only makers can prepare" in refused.text
    for person in (seller, bank):
        assert financing[:12] not in person.http.get("/approvals").text
    for person in (seller, bank, viewer):
        person.close()


def test_searching_a_financing_id_opens_its_page_in_either_partys_console(
        consoles: Consoles) -> None:
    financing = consoles.world.financing
    for org in ("s1", "b1", "auditor"):
        person = consoles.person(org, "vera")
        found = person.http.get("/explorer/search", params={"q": financing[:12]})
        assert found.url.path == f"/financings/{financing}", (org, found.url.path)
        person.close()
