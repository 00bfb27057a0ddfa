"""Setting up a local consortium: identities, keystores, the genesis and node settings.

`init_consortium` founds the organisations of a cast (a spec's, see
client/local_consortium/spec.py; the example consortium's by default),
gives each a fresh key sealed in its own keystore, writes the self-signed
genesis every node starts from, and a node settings file, and records the
layout in `consortium.json`, in a new folder only.  It also creates the
consortium's PKI (client/local_consortium/pki.py):

    ca/ca.crt              root CA certificate (Ed25519, self-signed)
    ca/ca.key              CA private key, PKCS#8 PEM sealed with the password (0600)
    keys/<alias>.json      organisation keystore (signing key), as before
    certs/<alias>.crt      member certificate over that signing key
    keys/<alias>.tls.pem   the same key as PKCS#8 PEM sealed with the password (0600),
                           for TLS client authentication by the SDK
    nodes/<alias>.key      node attestation key (hex seed, 0600), as before
    nodes/<alias>.crt      node certificate over the attestation key
    nodes/<alias>.pem      the same key as unencrypted PKCS#8 PEM (0600), for uvicorn
"""

from __future__ import annotations

import json
import os
import secrets
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519

from client.local_consortium import pki
from client.local_consortium.spec import OrgSpec, example_spec
from client.sdk.keystore import Identity, generate_key, load_keystore, save_keystore
from client.sdk.tls import CertificateError, TlsFiles, client_context
from contracts.code import code_hash
from ledger.attestation import NodeInfo
from ledger.crypto import PrivateKey
from ledger.genesis import make_genesis
from ledger.membership import USCC_ALPHABET, Member, make_uscc

DEFAULT_CAST: tuple[OrgSpec, ...] = example_spec().organisations
"""The example consortium's eight organisations (example_consortium.toml, next to this module)."""


def node_id_of(alias: str) -> str:
    """Return the node id of the node run by organisation `alias`."""
    return f"node-{alias}"


def _node_key(directory: Path, alias: str, uscc: str) -> tuple[NodeInfo, PrivateKey]:
    """Write a fresh attestation key for `alias`'s node; return its registration and key."""
    key = generate_key()
    path = directory / "nodes" / f"{alias}.key"
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as out:
        out.write(key.seed.hex() + "\n")
    return NodeInfo(node_id_of(alias), uscc, key.public_key), key


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

    # -- the PKI (see the module docstring for the layout) ---------------------------

    @property
    def ca_cert_path(self) -> Path:
        """Return the consortium root CA certificate's path."""
        return self.directory / "ca" / "ca.crt"

    @property
    def ca_key_path(self) -> Path:
        """Return the path of the CA private key (sealed with the consortium password)."""
        return self.directory / "ca" / "ca.key"

    def member_cert_path(self, alias: str) -> Path:
        """Return the member certificate path of organisation `alias`."""
        return self.directory / "certs" / f"{alias}.crt"

    def member_tls_key_path(self, alias: str) -> Path:
        """Return the path of organisation `alias`'s TLS key (sealed with the password)."""
        return self.directory / "keys" / f"{alias}.tls.pem"

    def node_tls_files(self, alias: str) -> TlsFiles:
        """Return the certificate, key and CA files of the node run by `alias`."""
        return TlsFiles(self.directory / "nodes" / f"{alias}.crt",
                        self.directory / "nodes" / f"{alias}.pem", self.ca_cert_path)

    def tls_context(self, alias: str, password: str) -> ssl.SSLContext:
        """Return the SDK's TLS context for `alias`: trust the CA, present its member cert."""
        self._require_pki()
        files = TlsFiles(self.member_cert_path(alias), self.member_tls_key_path(alias),
                         self.ca_cert_path)
        return client_context(files, password)

    def issue_server_cert(self, password: str, *, name: str, alias: str, directory: Path,
                          validity: timedelta = pki.DEFAULT_VALIDITY) -> TlsFiles:
        """Issue a node-style certificate for a server `name` run by `alias` (an etcd member).

        The server gets a fresh Ed25519 key, written unencrypted (0600) next to
        its certificate in `directory`; opening the CA key needs `password`.
        """
        self._require_pki()
        ca_cert = pki.read_certificate(self.ca_cert_path)
        ca_key = pki.load_private_key(self.ca_key_path, password)
        if not isinstance(ca_key, ed25519.Ed25519PrivateKey):
            raise CertificateError(f"{self.ca_key_path} is not an Ed25519 CA key")
        key = ed25519.Ed25519PrivateKey.generate()
        org = self.orgs[alias]
        cert = pki.issue_node_cert(ca_key, ca_cert, public_key=key.public_key(), node_id=name,
                                   uscc=org["uscc"], org_name=org["name"], validity=validity)
        files = TlsFiles(directory / f"{name}.crt", directory / f"{name}.pem", self.ca_cert_path)
        pki.write_certificate(files.cert, cert)
        pki.write_private_key(files.key, key, None)
        return files

    def _require_pki(self) -> None:
        if not self.ca_cert_path.exists():
            raise FileNotFoundError(f"{self.directory} has no consortium CA ({self.ca_cert_path}); "
                                    f"it was made before the PKI existed: create a new one")

    @classmethod
    def open(cls, directory: Path) -> Consortium:
        """Read a consortium directory's description."""
        info = json.loads((directory / "consortium.json").read_text(encoding="utf-8"))
        return cls(directory, info["chain_id"], info["orgs"])


def init_consortium(
    directory: Path, *, password: str, chain_id: str, genesis_time: datetime,
    cast: Sequence[OrgSpec] = DEFAULT_CAST, policies: Mapping[str, Any] | None = None,
    port: int = 8600, node_orgs: Sequence[str] = (),
    cert_validity: timedelta = pki.DEFAULT_VALIDITY,
) -> Consortium:
    """Create keys, keystores, genesis and node settings for a new consortium in `directory`.

    Each alias in `node_orgs` runs a network node `node-<alias>`: it gets an
    attestation key in `nodes/<alias>.key` (readable by its owner only) and
    is registered in the genesis, and `node.toml` runs the first of them (on
    the embedded log: a network node adds `etcd_endpoints` and `peers`).  The
    consortium CA issues every member and node a certificate valid for
    `cert_validity`.  Raises FileExistsError if `directory` exists and is not
    an empty folder (a consortium is never written over another's files),
    ValueError for a node organisation not in the cast.
    """
    directory = directory.resolve()  # node.toml must work from any working directory
    require_new_folder(directory)
    if cert_validity <= timedelta(0):
        raise ValueError(f"certificate validity must be positive, not {cert_validity}")
    unknown = [alias for alias in node_orgs if alias not in _aliases(cast)]
    if unknown or len(set(node_orgs)) != len(node_orgs):
        raise ValueError(f"node organisations {list(node_orgs)} must be distinct aliases of "
                         f"the cast (not in it: {unknown})")
    directory.mkdir(parents=True, exist_ok=True)
    made = Consortium(directory, chain_id, {})
    ca_key, ca_cert = pki.new_ca(f"{chain_id} consortium root CA")
    pki.write_certificate(made.ca_cert_path, ca_cert)
    pki.write_private_key(made.ca_key_path, ca_key, password)
    members: dict[str, tuple[Member, Any]] = {}
    orgs: dict[str, dict[str, Any]] = {}
    for alias, spec in zip(_aliases(cast), cast, strict=True):
        identity = Identity(spec.uscc or random_uscc(), spec.name, generate_key())
        save_keystore(directory / "keys" / f"{alias}.json", identity, password)
        member = Member(identity.uscc, spec.name, frozenset(spec.roles), identity.key.public_key)
        members[identity.uscc] = (member, identity.key)
        orgs[alias] = {"uscc": identity.uscc, "name": spec.name,
                       "roles": [r.value for r in spec.roles]}
        cert = pki.issue_member_cert(ca_key, ca_cert, public_key=identity.key.public_key.raw,
                                     uscc=identity.uscc, name=spec.name, roles=spec.roles,
                                     validity=cert_validity)
        pki.write_certificate(made.member_cert_path(alias), cert)
        pki.write_private_key(made.member_tls_key_path(alias),
                              pki.ed25519_key_from_seed(identity.key.seed), password)
    nodes = []
    for alias in node_orgs:
        info, node_key = _node_key(directory, alias, orgs[alias]["uscc"])
        nodes.append(info)
        files = made.node_tls_files(alias)
        signing = pki.ed25519_key_from_seed(node_key.seed)
        pki.write_certificate(files.cert, pki.issue_node_cert(
            ca_key, ca_cert, public_key=signing.public_key(), node_id=info.id,
            uscc=info.org, org_name=orgs[alias]["name"], validity=cert_validity))
        pki.write_private_key(files.key, signing, None)
    # pin the contract code this tool runs with: every node must run the same
    genesis = make_genesis(chain_id, genesis_time, members, policies or {}, nodes,
                           contracts_hash=code_hash())
    (directory / "genesis.json").write_text(json.dumps(genesis.to_json(), indent=1,
                                                       ensure_ascii=False), encoding="utf-8")
    (directory / "node.toml").write_text(_node_settings(directory, port, node_orgs[:1]),
                                         encoding="utf-8")
    (directory / "consortium.json").write_text(
        json.dumps({"chain_id": chain_id, "orgs": orgs}, indent=2, ensure_ascii=False),
        encoding="utf-8")
    return Consortium(directory, chain_id, orgs)


def _aliases(cast: Sequence[OrgSpec]) -> list[str]:
    """Return each organisation's alias (`org<N>` for one given none), in the cast's order."""
    return [spec.alias or f"org{index + 1}" for index, spec in enumerate(cast)]


def require_new_folder(directory: Path) -> None:
    """Raise FileExistsError unless `directory` is absent or an empty folder."""
    if directory.exists() and not directory.is_dir():
        raise FileExistsError(f"{directory} exists and is not a folder: give a new folder")
    if (directory / "consortium.json").exists():
        raise FileExistsError(f"{directory} already holds a consortium: give a new folder")
    if directory.exists() and any(directory.iterdir()):
        raise FileExistsError(f"{directory} is not empty: a consortium is created in a new "
                              f"(or empty) folder, never over other files")


def _node_settings(directory: Path, port: int, node: Sequence[str]) -> str:
    """Return node.toml: the embedded node of this folder, as the registered `node` if one.

    On a chain with registered nodes only a registered node may sign batches,
    so the node runs as the first of them, with its key.
    """
    settings: dict[str, str | int] = {
        "genesis_path": str(directory / "genesis.json"),
        "database_url": f"sqlite:///{directory / 'node.db'}",
        "orderer_path": str(directory / "orderer.db"), "port": port}
    for alias in node:
        settings |= {"node_id": node_id_of(alias),
                     "node_key_path": str(directory / "nodes" / f"{alias}.key")}
    # a JSON string is a TOML basic string (quotes and backslashes escaped alike)
    return "".join(f"{key} = {json.dumps(value, ensure_ascii=False)}\n"
                   for key, value in settings.items())
