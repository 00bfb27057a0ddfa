"""The credential page fetches a committed transaction's facts once, then serves them from memory.

Against a real node: core issues s1 a credential, s1 accepts it and pays s2
a quarter of it (a split), and core issues s2 another that s1 may not read.
s1's console (`open_console`, in this process) talks to the node through
the SDK's real HTTP transport, wrapped to note the path of each request it
sends.  The first view of the credential's tree asks the node for each
transaction that created a note (and its block); a second view asks for
none.  What the node did not show as committed (a transaction s1 may not
read, an id nobody knows) is asked again every time, and the cache keeps
no more than its size.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from client.console.config import ConfigError, ConsoleConfig, config_text, load_config
from client.console.credential_view import credential_extras
from client.console.services import Console, open_console
from client.sdk.keystore import Identity
from client.sdk.participant import Participant
from tests.client.console.support import issue
from tests.node.support import FACE, grant_line, issue_accepted
from tests.nodes import RunningNode, running_node

FETCHES = ("/v1/transactions/", "/v1/blocks/")


class Noted(httpx.HTTPTransport):
    """The SDK's real HTTP transport, noting the path of every request it sends."""

    def __init__(self) -> None:
        super().__init__()
        self.paths: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Note the request's path, then send it as httpx does."""
        self.paths.append(request.url.path)
        return super().handle_request(request)

    def fetches(self) -> list[str]:
        """Return the transaction and block requests noted, and forget every request."""
        asked = [p for p in self.paths if p.startswith(FETCHES)]
        self.paths.clear()
        return asked


@dataclass
class Chain:
    """The node and what was made on it."""

    node: RunningNode
    root: str  # s1's credential, split once (to s2)
    hidden_tx: str  # core's issue to s2: s1 may not read it
    folder: Path


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    folder = tmp_path_factory.mktemp("credential_cache")
    (folder / "node").mkdir()
    with running_node(folder / "node", verifier_processes=0) as node:
        line = grant_line(node)
        root = issue_accepted(node, line)
        s1 = node.participant("s1")
        s1.transfer(root, [(node.orgs["s2"].uscc, FACE // 4)])
        hidden = issue(node, line, "s2")
        hidden_tx = str(node.participant("s2").receivable(hidden)["notes"][0]["created_tx"])
        s1.close()
        yield Chain(node, root, hidden_tx, folder)


def _console(chain: Chain, name: str) -> tuple[Console, Noted]:
    """Open s1's console over a noted transport; return it and the transport."""
    org = chain.node.orgs["s1"]
    identity = Identity(org.uscc, org.name, org.key)
    noted = Noted()
    config = ConsoleConfig(keystore=chain.folder / "unused.json", nodes=(chain.node.url,),
                           database_url=f"sqlite:///{chain.folder / name}.db")
    console = open_console(config, identity, "", connect=lambda: Participant(
        chain.node.url, identity, now=chain.node.clock.now, transport=noted))
    return console, noted


def test_a_second_view_of_a_credential_asks_the_node_for_no_transaction(chain: Chain) -> None:
    console, noted = _console(chain, "second_view")
    answer = console.signer.participant().receivable(chain.root)
    noted.fetches()
    first = credential_extras(console, answer)
    created = {n["created_tx"] for n in answer["notes"]}
    assert len(created) == 2  # the issue and the split
    assert {p.rsplit("/", 1)[1] for p in noted.fetches() if "/transactions/" in p} == created
    second = credential_extras(console, answer)
    assert noted.fetches() == []
    assert second["history"] == first["history"]  # the same edges, actions and dates
    assert all(h["edge"].date for h in second["history"])
    console.signer.close()


def test_what_the_node_did_not_show_committed_is_asked_again(chain: Chain) -> None:
    console, noted = _console(chain, "not_shown")
    node = console.signer.participant().node
    unknown = "0" * 64
    for _ in range(2):
        assert console.tx_facts.facts(node, [chain.hidden_tx, unknown]) == {}
    assert sorted(noted.fetches()) == sorted(
        [f"/v1/transactions/{chain.hidden_tx}", f"/v1/transactions/{unknown}"] * 2)
    assert len(console.tx_facts) == 0
    console.signer.close()


def test_the_cache_keeps_at_most_its_size_and_forgets_the_least_recently_used(
        chain: Chain) -> None:
    from client.console.tx_facts import CommittedTxFacts

    console, noted = _console(chain, "bounded")
    me = console.signer.participant()
    node = me.node
    first, second, third = [str(e["tx_id"]) for e in me.events()[:3]]
    cache = CommittedTxFacts(size=2)
    for tx_id in (first, second, first, third):  # `first` used again: `second` is the oldest
        assert set(cache.facts(node, [tx_id])) == {tx_id}
    assert len(cache) == 2
    noted.fetches()
    assert set(cache.facts(node, [first, third])) == {first, third}
    assert noted.fetches() == []
    assert set(cache.facts(node, [second])) == {second}
    assert f"/v1/transactions/{second}" in noted.fetches()  # forgotten, so asked again
    assert len(cache) == 2
    console.signer.close()


def test_a_cache_size_below_one_is_refused() -> None:
    from client.console.tx_facts import CommittedTxFacts

    with pytest.raises(ValueError, match="at least 1"):
        CommittedTxFacts(size=0)


def test_the_settings_size_the_cache(tmp_path: Path) -> None:
    settings = tmp_path / "console.toml"
    base = config_text(keystore=tmp_path / "k.json", nodes=["http://127.0.0.1:1"], tls=None)
    settings.write_text(base, encoding="utf-8")
    assert load_config(settings).tx_cache_size == 4096
    settings.write_text(base + "tx_cache_size = 8\n", encoding="utf-8")
    assert load_config(settings).tx_cache_size == 8
    for wrong in ("0", "1000001", '"many"'):
        settings.write_text(base + f"tx_cache_size = {wrong}\n", encoding="utf-8")
        with pytest.raises(ConfigError, match="tx_cache_size must be"):
            load_config(settings)
