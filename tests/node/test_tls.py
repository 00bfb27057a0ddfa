"""Mutual TLS on the wire: only holders of a valid consortium certificate get an answer.

Real nodes (uvicorn + OpenSSL) and a real etcd cluster on loopback; the
clients are plain httpx with hand-made TLS contexts.
"""

from __future__ import annotations

import ssl
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from client.local_consortium.pki import (
    ed25519_key_from_seed,
    issue_member_cert,
    write_certificate,
    write_private_key,
)
from client.sdk.http import NodeClient
from client.sdk.keystore import Identity
from client.sdk.tls import TlsFiles, client_context
from node.ordering.etcd_client import EtcdClient
from tests.builders import make_orgs
from tests.etcd import etcd_context
from tests.nodes import node_tls, running_node
from tests.pki import TestCA, shared_pki

REFUSED = (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)


def _trusting(ca: Path) -> ssl.SSLContext:
    """A client that trusts the consortium CA but presents no certificate."""
    return ssl.create_default_context(cafile=str(ca))


def _with_foreign_cert(tmp: Path, ca: Path) -> ssl.SSLContext:
    """A client that trusts the consortium CA and presents a cert from its own CA."""
    made_up = TestCA(tmp / "foreign", "Receivables consortium root CA").node_files("intruder")
    context = _trusting(ca)
    context.load_cert_chain(str(made_up.cert), str(made_up.key))
    return context


def _expired_member(tmp: Path) -> ssl.SSLContext:
    """A member cert from the right CA whose validity ended yesterday."""
    pki, org = shared_pki(), make_orgs()["s1"]
    cert = issue_member_cert(pki.key, pki.cert, public_key=org.key.public_key.raw, uscc=org.uscc,
                             name=org.name, roles=org.roles,
                             now=datetime.now(UTC) - timedelta(days=31),
                             validity=timedelta(days=30))
    files = TlsFiles(tmp / "expired.crt", tmp / "expired.pem", pki.ca_path)
    write_certificate(files.cert, cert)
    write_private_key(files.key, ed25519_key_from_seed(org.key.seed), None)
    return client_context(files)


def test_a_tls_node_answers_only_clients_with_a_valid_consortium_certificate(
    tmp_path: Path,
) -> None:
    orgs = make_orgs()
    files = node_tls(1, orgs["core"])
    with running_node(tmp_path, tls_cert_path=files.cert, tls_key_path=files.key,
                      tls_ca_path=files.ca) as node:
        assert node.url.startswith("https://127.0.0.1:")
        for refused in (_trusting(files.ca), _with_foreign_cert(tmp_path, files.ca),
                        _expired_member(tmp_path)):
            with pytest.raises(REFUSED):
                httpx.get(node.url + "/v1/health", verify=refused, timeout=5)
        member = shared_pki().member_context(orgs["auditor"])
        assert httpx.get(node.url + "/v1/health", verify=member, timeout=5).status_code == 200
        assert node.participant("auditor").status()["height"] == 0
        with pytest.raises(REFUSED):  # plain HTTP gets nothing either
            httpx.get(node.url.replace("https:", "http:") + "/v1/health", timeout=5)


def test_a_tls_node_refuses_tls_1_2(tmp_path: Path) -> None:
    files = node_tls(1, make_orgs()["core"])
    with running_node(tmp_path, tls_cert_path=files.cert, tls_key_path=files.key,
                      tls_ca_path=files.ca) as node:
        old = shared_pki().node_context("old-client")
        old.minimum_version = ssl.TLSVersion.TLSv1_2
        old.maximum_version = ssl.TLSVersion.TLSv1_2
        with pytest.raises(httpx.ConnectError):
            httpx.get(node.url + "/v1/health", verify=old, timeout=5)


def test_the_sdk_will_not_talk_to_an_https_node_without_a_tls_context() -> None:
    org = make_orgs()["core"]
    with pytest.raises(ValueError, match="is a TLS node: pass tls"):
        NodeClient("https://127.0.0.1:1", Identity(org.uscc, org.name, org.key),
                   chain_id="c")


def test_a_half_configured_tls_node_refuses_to_start(tmp_path: Path) -> None:
    files = node_tls(1, make_orgs()["core"])
    (tmp_path / "genesis.json").write_text("{}")
    result = subprocess.run(
        [sys.executable, "-m", "node", "serve", "--genesis", str(tmp_path / "genesis.json"),
         "--database", f"sqlite:///{tmp_path / 'n.db'}", "--tls-cert", str(files.cert)],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "missing: tls_ca_path, tls_key_path" in result.stderr


@pytest.mark.etcd
def test_etcd_serves_only_clients_with_a_consortium_certificate(
    tmp_path: Path, etcd_members: list[Any]
) -> None:
    url = etcd_members[0].client_url
    assert url.startswith("https://")
    trusted = etcd_context()
    EtcdClient([url], ssl_context=trusted).put_if_absent(b"/secret", b"log")
    ca = shared_pki().ca_path
    for refused in (_trusting(ca), _with_foreign_cert(tmp_path, ca)):
        with pytest.raises(REFUSED):
            httpx.post(url + "/v3/kv/range", json={"key": "L3NlY3JldA=="}, verify=refused,
                       timeout=5)
    with pytest.raises(ValueError, match="need a TLS context"):
        EtcdClient([url])
    reply = httpx.post(url + "/v3/kv/range", json={"key": "L3NlY3JldA=="}, verify=trusted,
                       timeout=5)
    assert reply.json()["kvs"][0]["value"] == "bG9n"
