"""The consortium PKI: what certificates say, who issued them, and when they are valid."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from client.local_consortium.consortium import init_consortium, node_id_of
from client.local_consortium.pki import (
    check_issued_by,
    ed25519_key_from_seed,
    issue_member_cert,
    issue_node_cert,
    load_private_key,
    member_info,
    new_ca,
    node_info,
    read_certificate,
)
from client.sdk.tls import CertificateError
from ledger.membership import Role
from tests.builders import make_orgs

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PASSWORD = "pki-test"


def test_the_root_ca_is_a_self_signed_ed25519_ca_that_may_only_sign_certificates() -> None:
    key, ca = new_ca("test root", now=NOW)
    assert isinstance(ca.public_key(), ed25519.Ed25519PublicKey)
    assert ca.issuer == ca.subject
    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca is True
    usage = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and not usage.digital_signature
    check_issued_by(ca, ca, at=NOW)  # it verifies under its own key
    assert key.public_key() == ca.public_key()


def test_a_member_certificate_carries_the_orgs_signing_key_uscc_name_and_roles() -> None:
    ca_key, ca = new_ca(now=NOW)
    org = make_orgs()["b1"]
    cert = issue_member_cert(ca_key, ca, public_key=org.key.public_key.raw, uscc=org.uscc,
                             name=org.name, roles=[Role.BANK, Role.AUDITOR], now=NOW)
    info = member_info(cert)
    assert (info.uscc, info.name) == (org.uscc, org.name)
    assert info.roles == {Role.BANK, Role.AUDITOR}
    assert info.public_key == org.key.public_key.raw
    oid_values = cert.subject.get_attributes_for_oid(x509.ObjectIdentifier("2.5.4.97"))
    assert [a.value for a in oid_values] == [org.uscc]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert cert.not_valid_after_utc - NOW == timedelta(days=730)
    check_issued_by(cert, ca, at=NOW)


def test_a_node_certificate_names_the_node_its_org_and_loopback() -> None:
    ca_key, ca = new_ca(now=NOW)
    org = make_orgs()["core"]
    node_key = ed25519.Ed25519PrivateKey.generate()
    cert = issue_node_cert(ca_key, ca, public_key=node_key.public_key(), node_id="node-core",
                           uscc=org.uscc, org_name=org.name, now=NOW,
                           validity=timedelta(days=30))
    info = node_info(cert)
    assert (info.node_id, info.uscc, info.org_name) == ("node-core", org.uscc, org.name)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    eku = set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    assert eku == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    assert cert.not_valid_after_utc - NOW == timedelta(days=30)


def test_serial_numbers_are_random() -> None:
    ca_key, ca = new_ca(now=NOW)
    org = make_orgs()["s1"]
    serials = {issue_member_cert(ca_key, ca, public_key=org.key.public_key.raw, uscc=org.uscc,
                                 name=org.name, roles=[Role.SUPPLIER]).serial_number
               for _ in range(5)}
    assert len(serials) == 5 and min(serials) > 2**64


def test_an_expired_or_not_yet_valid_certificate_is_rejected() -> None:
    ca_key, ca = new_ca(now=NOW - timedelta(days=400))
    org = make_orgs()["s1"]
    cert = issue_member_cert(ca_key, ca, public_key=org.key.public_key.raw, uscc=org.uscc,
                             name=org.name, roles=[Role.SUPPLIER], now=NOW - timedelta(days=400),
                             validity=timedelta(days=365))
    check_issued_by(cert, ca, at=NOW - timedelta(days=100))
    with pytest.raises(CertificateError, match="expired"):
        check_issued_by(cert, ca, at=NOW)
    with pytest.raises(CertificateError, match="not valid before"):
        check_issued_by(cert, ca, at=NOW - timedelta(days=500))


def test_a_certificate_from_another_ca_is_rejected_even_under_the_same_name() -> None:
    _, ca = new_ca("Receivables consortium root CA", now=NOW)
    other_key, other = new_ca("Receivables consortium root CA", now=NOW)  # same subject
    org = make_orgs()["s1"]
    forged = issue_member_cert(other_key, other, public_key=org.key.public_key.raw,
                               uscc=org.uscc, name=org.name, roles=[Role.SUPPLIER], now=NOW)
    with pytest.raises(CertificateError, match="valid signature of the consortium CA"):
        check_issued_by(forged, ca, at=NOW)
    _, differently_named = new_ca("Some other CA", now=NOW)
    with pytest.raises(CertificateError, match="not by the consortium CA"):
        check_issued_by(forged, differently_named, at=NOW)


def test_bad_input_is_refused_with_a_clear_error() -> None:
    ca_key, ca = new_ca(now=NOW)
    org = make_orgs()["s1"]
    raw = org.key.public_key.raw
    with pytest.raises(ValueError, match="not a valid USCC"):
        issue_member_cert(ca_key, ca, public_key=raw, uscc="91X", name=org.name,
                          roles=[Role.SUPPLIER])
    with pytest.raises(ValueError, match="at least one role"):
        issue_member_cert(ca_key, ca, public_key=raw, uscc=org.uscc, name=org.name, roles=[])
    with pytest.raises(ValueError, match="'janitor' is not a valid Role"):
        issue_member_cert(ca_key, ca, public_key=raw, uscc=org.uscc, name=org.name,
                          roles=["janitor"])
    with pytest.raises(ValueError, match="validity must be positive"):
        issue_member_cert(ca_key, ca, public_key=raw, uscc=org.uscc, name=org.name,
                          roles=[Role.SUPPLIER], validity=timedelta(0))
    # a member certificate whose subject lacks the roles or names an unknown one
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, org.name),
                         x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, org.uscc),
                         x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "janitor")])
    odd = (x509.CertificateBuilder().subject_name(subject).issuer_name(ca.subject)
           .public_key(ed25519.Ed25519PublicKey.from_public_bytes(raw))
           .serial_number(x509.random_serial_number())
           .not_valid_before(NOW).not_valid_after(NOW + timedelta(days=1)).sign(ca_key, None))
    with pytest.raises(CertificateError, match="names roles"):
        member_info(odd)


def test_consortium_init_writes_the_pki_layout(tmp_path: Path) -> None:
    made = init_consortium(tmp_path / "c", password=PASSWORD, chain_id="pki-chain",
                           genesis_time=NOW, node_orgs=("core", "bank_a"),
                           cert_validity=timedelta(days=90))
    ca = read_certificate(made.ca_cert_path)
    assert stat.S_IMODE(made.ca_key_path.stat().st_mode) == 0o600
    with pytest.raises(CertificateError, match="wrong password"):
        load_private_key(made.ca_key_path, "not the password")
    assert load_private_key(made.ca_key_path, PASSWORD).public_key() == ca.public_key()
    for alias, org in made.orgs.items():
        cert = read_certificate(made.member_cert_path(alias))
        check_issued_by(cert, ca)
        info = member_info(cert)
        identity = made.identity(alias, PASSWORD)
        assert (info.uscc, info.name) == (org["uscc"], org["name"])
        assert sorted(r.value for r in info.roles) == sorted(org["roles"])
        assert info.public_key == identity.key.public_key.raw  # the keystore's signing key
        tls_key = load_private_key(made.member_tls_key_path(alias), PASSWORD)
        assert tls_key.public_key() == cert.public_key()
        assert stat.S_IMODE(made.member_tls_key_path(alias).stat().st_mode) == 0o600
        assert cert.not_valid_after_utc - cert.not_valid_before_utc == timedelta(days=90,
                                                                                  minutes=5)
    for alias in ("core", "bank_a"):
        files = made.node_tls_files(alias)
        cert = read_certificate(files.cert)
        check_issued_by(cert, ca)
        assert node_info(cert).node_id == node_id_of(alias)
        assert node_info(cert).uscc == made.orgs[alias]["uscc"]
        seed = bytes.fromhex((made.directory / "nodes" / f"{alias}.key").read_text().strip())
        assert ed25519_key_from_seed(seed).public_key() == cert.public_key()  # attestation key
        assert load_private_key(files.key, None).public_key() == cert.public_key()
        assert stat.S_IMODE(files.key.stat().st_mode) == 0o600
    context = made.tls_context("core", PASSWORD)
    assert context.verify_mode.name == "CERT_REQUIRED" and context.check_hostname
    with pytest.raises(CertificateError, match="wrong password"):
        made.tls_context("core", "not the password")
