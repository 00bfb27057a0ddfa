"""A registered node with a financing under way, and the bank's and the auditor's consoles.

`bank_world` serves node1 of a chain registering it alone (quorum 1, so its
checkpoints are cosigned and the browser can verify them), has b1 grant
core a credit line, core issue s1 two credentials that s1 accepts, and s1
ask b1 to finance one of them, all through the SDK.  It writes b1's and the
auditor's keystores and console settings (naming the consortium's genesis
file, which the verify page trusts) with their people, for
`running_console`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from client.console import users
from client.console.config import config_text, load_config
from client.console.store import open_database
from client.sdk.keystore import Identity, save_keystore
from tests.client.console.support import PASSWORD, PEOPLE, password_of
from tests.node.support import grant_line, issue_accepted
from tests.nodes import RunningNode


@dataclass
class BankWorld:
    """The node, the records made, and the consoles' settings files."""

    node: RunningNode
    line: str
    root: str  # a credential s1 holds, whose note it asked b1 to finance
    financing: str
    spare: str  # another credential s1 holds, free to be financed by a test
    folder: Path

    def settings(self, org: str, language: str) -> Path:
        """Write console settings for `org` (genesis named, port 0) with its people."""
        key = self.node.orgs[org]
        save_keystore(self.folder / f"{org}.json", Identity(key.uscc, key.name, key.key),
                      PASSWORD)
        path = self.folder / f"{org}.toml"
        path.write_text(config_text(
            keystore=self.folder / f"{org}.json", nodes=[self.node.url], tls=None,
            database_url=f"sqlite:///{org}.db", port=0, language=language,
            genesis=self.folder / "node" / "genesis.json"), encoding="utf-8")
        engine = open_database(load_config(path).database_url)
        for person, role in PEOPLE.items():
            users.add_user(engine, name=person, role=role, password=password_of(person),
                           by="test")
        engine.dispose()
        return path


def request_financing(node: RunningNode, note: str, bank: str = "b1") -> str:
    """Have s1 ask `bank` to finance `note`; return the financing id."""
    s1 = node.participant("s1")
    try:
        asked = s1.request_financing(note, node.orgs[bank].uscc)
        return str(asked["events"][0]["financing"])
    finally:
        s1.close()


def make_bank_world(node: RunningNode, folder: Path) -> BankWorld:
    """Make the credit line, two accepted credentials and one financing request."""
    line = grant_line(node)
    root, spare = issue_accepted(node, line), issue_accepted(node, line, amount=25_000_000)
    return BankWorld(node, line, root, request_financing(node, root), spare, folder)
