"""A consortium CA for tests: real certificates, written to a temporary directory.

One CA serves the whole test session (`shared_pki()`); node, etcd and member
certificates are issued on demand with the same layout `consortium init`
writes, so TLS in tests is the real thing: OpenSSL on both ends, on loopback.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import ssl
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ed25519

from client.local_consortium.pki import (
    ed25519_key_from_seed,
    issue_member_cert,
    issue_node_cert,
    new_ca,
    write_certificate,
    write_private_key,
)
from client.sdk.tls import TlsFiles, client_context
from ledger.crypto import PrivateKey
from tests.builders import Org, make_orgs


class TestCA:
    """A CA in `directory` that issues certificates for test nodes, etcd members and orgs."""

    __test__ = False  # not a pytest class

    def __init__(self, directory: Path, name: str = "test consortium root CA") -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.key, self.cert = new_ca(name)
        self.ca_path = directory / "ca.crt"
        write_certificate(self.ca_path, self.cert)

    def node_files(self, name: str, *, key: PrivateKey | None = None,
                   org: Org | None = None) -> TlsFiles:
        """Issue a node-style certificate `CN=name` (over `key`, else a fresh key)."""
        org = org or make_orgs()["core"]
        signing = (ed25519_key_from_seed(key.seed) if key is not None
                   else ed25519.Ed25519PrivateKey.generate())
        files = TlsFiles(self.directory / f"{name}.crt", self.directory / f"{name}.pem",
                         self.ca_path)
        write_certificate(files.cert, issue_node_cert(
            self.key, self.cert, public_key=signing.public_key(), node_id=name,
            uscc=org.uscc, org_name=org.name))
        write_private_key(files.key, signing, None)
        return files

    def node_context(self, name: str) -> ssl.SSLContext:
        """Return a client context presenting a fresh node-style certificate `name`."""
        return client_context(self.node_files(name))

    def member_files(self, org: Org) -> TlsFiles:
        """Issue `org`'s member certificate over its signing key."""
        files = TlsFiles(self.directory / f"member-{org.uscc}.crt",
                         self.directory / f"member-{org.uscc}.pem", self.ca_path)
        write_certificate(files.cert, issue_member_cert(
            self.key, self.cert, public_key=org.key.public_key.raw, uscc=org.uscc,
            name=org.name, roles=org.roles))
        write_private_key(files.key, ed25519_key_from_seed(org.key.seed), None)
        return files

    @functools.cache  # noqa: B019 - one CA per session; contexts are reusable
    def member_context(self, org: Org) -> ssl.SSLContext:
        """Return the SDK context of `org`: trust this CA, present its member certificate."""
        return client_context(self.member_files(org))


@functools.cache
def shared_pki() -> TestCA:
    """Return the session's test CA (created on first use, removed at exit)."""
    directory = Path(tempfile.mkdtemp(prefix="ledger-test-pki-"))
    atexit.register(shutil.rmtree, directory, True)
    return TestCA(directory)
