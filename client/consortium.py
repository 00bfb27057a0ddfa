"""Setting up a local consortium: identities, keystores, the genesis and node settings.

`init_consortium` gives every organisation a fresh key sealed in its own
keystore, writes the self-signed genesis every node starts from, and a node
settings file, and records the layout in `consortium.json`.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from client.keystore import Identity, generate_key, load_keystore, save_keystore
from contracts.code import code_hash
from ledger.attestation import NodeInfo
from ledger.genesis import make_genesis
from ledger.membership import USCC_ALPHABET, Member, Role, make_uscc


@dataclass(frozen=True)
class OrgSpec:
    """An organisation to found the consortium with."""

    name: str
    roles: tuple[Role, ...]
    uscc: str | None = None
    alias: str | None = None


DEFAULT_CAST: tuple[OrgSpec, ...] = (
    OrgSpec("华东重工集团有限公司 (East China Heavy)", (Role.CORE_ENTERPRISE,),
            alias="core"),
    OrgSpec("苏州精密部件有限公司 (Suzhou Precision)", (Role.SUPPLIER,), alias="tier1"),
    OrgSpec("无锡铸造有限公司 (Wuxi Castings)", (Role.SUPPLIER,), alias="tier2a"),
    OrgSpec("常州电机有限公司 (Changzhou Motors)", (Role.SUPPLIER,), alias="tier2b"),
    OrgSpec("南通钢材贸易有限公司 (Nantong Steel)", (Role.SUPPLIER,), alias="tier3"),
    OrgSpec("招商银行上海分行 (Bank A)", (Role.BANK,), alias="bank_a"),
    OrgSpec("浦发银行苏州分行 (Bank B)", (Role.BANK,), alias="bank_b"),
    OrgSpec("立信会计师事务所 (Auditor)", (Role.AUDITOR,), alias="auditor"),
)


def node_id_of(alias: str) -> str:
    """Return the node id of the node run by organisation `alias`."""
    return f"node-{alias}"


def _node_key(directory: Path, alias: str, uscc: str) -> NodeInfo:
    """Write a fresh attestation key for `alias`'s node; return its registration."""
    key = generate_key()
    path = directory / "nodes" / f"{alias}.key"
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as out:
        out.write(key.seed.hex() + "\n")
    return NodeInfo(node_id_of(alias), uscc, key.public_key)


def random_uscc() -> str:
    """Return a random, well-formed USCC (registration authority 9, enterprise 1)."""
    body = "91" + "".join(secrets.choice(USCC_ALPHABET[:10]) for _ in range(6))
    body += "".join(secrets.choice(USCC_ALPHABET) for _ in range(9))
    return make_uscc(body)


@dataclass(frozen=True)
class Consortium:
    """A consortium directory as written by init_consortium."""

    directory: Path
    chain_id: str
    orgs: Mapping[str, dict[str, Any]]

    @property
    def genesis_path(self) -> Path:
        """Return the genesis file's path."""
        return self.directory / "genesis.json"

    def keystore(self, alias: str) -> Path:
        """Return the keystore path of organisation `alias`."""
        return self.directory / "keys" / f"{alias}.json"

    def identity(self, alias: str, password: str) -> Identity:
        """Open the keystore of organisation `alias`."""
        return load_keystore(self.keystore(alias), password)

    @classmethod
    def open(cls, directory: Path) -> Consortium:
        """Read a consortium directory's description."""
        info = json.loads((directory / "consortium.json").read_text(encoding="utf-8"))
        return cls(directory, info["chain_id"], info["orgs"])


def init_consortium(
    directory: Path, *, password: str, chain_id: str, genesis_time: datetime,
    cast: Sequence[OrgSpec] = DEFAULT_CAST, policies: Mapping[str, Any] | None = None,
    port: int = 8600, node_orgs: Sequence[str] = (),
) -> Consortium:
    """Create keys, keystores, genesis and node settings for a new consortium in `directory`.

    Each alias in `node_orgs` runs a network node `node-<alias>`: it gets an
    attestation key in `nodes/<alias>.key` (readable by its owner only) and
    is registered in the genesis.  Refuses to overwrite an existing consortium.
    """
    directory = directory.resolve()  # node.toml must work from any working directory
    if (directory / "consortium.json").exists():
        raise FileExistsError(f"{directory} already holds a consortium")
    directory.mkdir(parents=True, exist_ok=True)
    members: dict[str, tuple[Member, Any]] = {}
    orgs: dict[str, dict[str, Any]] = {}
    for index, spec in enumerate(cast):
        alias = spec.alias or f"org{index + 1}"
        identity = Identity(spec.uscc or random_uscc(), spec.name, generate_key())
        save_keystore(directory / "keys" / f"{alias}.json", identity, password)
        member = Member(identity.uscc, spec.name, frozenset(spec.roles), identity.key.public_key)
        members[identity.uscc] = (member, identity.key)
        orgs[alias] = {"uscc": identity.uscc, "name": spec.name,
                       "roles": [r.value for r in spec.roles]}
    nodes = [_node_key(directory, alias, orgs[alias]["uscc"]) for alias in node_orgs]
    # pin the contract code this tool runs with: every node must run the same
    genesis = make_genesis(chain_id, genesis_time, members, policies or {}, nodes,
                           contracts_hash=code_hash())
    (directory / "genesis.json").write_text(json.dumps(genesis.to_json(), indent=1,
                                                       ensure_ascii=False), encoding="utf-8")
    (directory / "node.toml").write_text(
        f'genesis_path = "{directory / "genesis.json"}"\n'
        f'database_url = "sqlite:///{directory / "node.db"}"\n'
        f'orderer_path = "{directory / "orderer.db"}"\n'
        f'port = {port}\n', encoding="utf-8")
    (directory / "consortium.json").write_text(
        json.dumps({"chain_id": chain_id, "orgs": orgs}, indent=2, ensure_ascii=False),
        encoding="utf-8")
    return Consortium(directory, chain_id, orgs)
