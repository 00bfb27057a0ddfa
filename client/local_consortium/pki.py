"""The consortium's membership PKI: a root CA and the certificates it issues.

Layout (all X.509 v3, built with `cryptography`):

- **Root CA**: Ed25519, self-signed, `CA:TRUE` (path length 0), key usage
  `keyCertSign` + `cRLSign`.  Its private key is stored as PKCS#8 PEM sealed
  with the consortium password.
- **Member certificate**: one per organisation, over the organisation's
  *existing* Ed25519 signing key (the one in its keystore).  Subject:
  `O=<name>`, `organizationIdentifier (2.5.4.97)=<USCC>`, `CN=<USCC>` and one
  `OU=<role>` per role (`core_enterprise`, `supplier`, `bank`, `auditor`).
  Extended key usage `clientAuth`: members are TLS clients of the nodes.
- **Node certificate**: one per network node (and per etcd member), over the
  node's own key.  Subject `CN=<node id>`, `O=<organisation name>`,
  `organizationIdentifier=<USCC of the organisation running it>`; SAN
  `DNS:localhost`, `IP:127.0.0.1`; EKU `serverAuth` + `clientAuth` (a node is
  a server to clients and a client of etcd and of other nodes).

Serial numbers are random (`x509.random_serial_number`); validity is
`DEFAULT_VALIDITY` (two years) unless the caller says otherwise.

What a certificate proves is checked in two places: TLS (OpenSSL) checks that
the peer's certificate chains to the consortium CA and is inside its validity
period; whether a member's *signatures count* is decided on chain by its
membership status, never by the certificate alone.

The member side (the files a member holds and the TLS context it connects
with) is `client.sdk.tls`, all a participant's program needs.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from client.sdk.tls import CertificateError
from ledger.membership import Role, is_valid_uscc

DEFAULT_VALIDITY = timedelta(days=730)
CA_VALIDITY = timedelta(days=3650)
BACKDATE = timedelta(minutes=5)  # tolerate small clock differences between machines
ROLE_VALUES = frozenset(r.value for r in Role)

CertKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
CertPublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey


@dataclass(frozen=True)
class MemberCertInfo:
    """What a member certificate says about an organisation."""

    uscc: str
    name: str
    roles: frozenset[Role]
    public_key: bytes  # raw 32-byte Ed25519 key: the organisation's signing key


@dataclass(frozen=True)
class NodeCertInfo:
    """What a node certificate says about a node."""

    node_id: str
    uscc: str
    org_name: str


def ed25519_key_from_seed(seed: bytes) -> ed25519.Ed25519PrivateKey:
    """Return the `cryptography` key for a 32-byte Ed25519 seed (as PyNaCl uses)."""
    return ed25519.Ed25519PrivateKey.from_private_bytes(seed)


def _now(now: datetime | None) -> datetime:
    moment = now or datetime.now(UTC)
    if moment.tzinfo is None:
        raise ValueError("certificate times must be timezone-aware (UTC)")
    return moment


def _check_validity(validity: timedelta) -> None:
    if validity <= timedelta(0):
        raise ValueError(f"a certificate's validity must be positive, not {validity}")


def _check_org(uscc: str, name: str) -> None:
    if not is_valid_uscc(uscc):
        raise ValueError(f"not a valid USCC: {uscc!r}")
    if not name or not name.strip():
        raise ValueError("an organisation certificate needs a non-empty name")


def _builder(subject: x509.Name, issuer: x509.Name, public_key: CertPublicKey,
             now: datetime, validity: timedelta) -> x509.CertificateBuilder:
    return (x509.CertificateBuilder()
            .subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE).not_valid_after(now + validity)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key),
                           critical=False))


def _leaf_usage() -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=True, content_commitment=False,
                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                         key_cert_sign=False, crl_sign=False, encipher_only=False,
                         decipher_only=False)


def _issued(builder: x509.CertificateBuilder, ca_key: ed25519.Ed25519PrivateKey,
            ca_cert: x509.Certificate) -> x509.Certificate:
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (builder
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(_leaf_usage(), critical=True)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                   ca_ski), critical=False))
    return builder.sign(ca_key, None)


def new_ca(name: str = "Receivables consortium root CA", *, now: datetime | None = None,
           validity: timedelta = CA_VALIDITY) -> tuple[ed25519.Ed25519PrivateKey,
                                                        x509.Certificate]:
    """Create a consortium root CA: a fresh Ed25519 key and its self-signed certificate."""
    _check_validity(validity)
    key = ed25519.Ed25519PrivateKey.generate()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Receivables consortium")])
    public = key.public_key()
    cert = (_builder(subject, subject, public, _now(now), validity)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=True, crl_sign=True,
                                         encipher_only=False, decipher_only=False),
                           critical=True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public),
                           critical=False)
            .sign(key, None))
    return key, cert


def issue_member_cert(
    ca_key: ed25519.Ed25519PrivateKey, ca_cert: x509.Certificate, *, public_key: bytes,
    uscc: str, name: str, roles: Iterable[Role | str], now: datetime | None = None,
    validity: timedelta = DEFAULT_VALIDITY,
) -> x509.Certificate:
    """Issue an organisation's member certificate over its Ed25519 signing key (32 raw bytes)."""
    _check_org(uscc, name)
    _check_validity(validity)
    role_values = sorted({Role(r).value for r in roles})
    if not role_values:
        raise ValueError("a member certificate needs at least one role")
    subject = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, uscc),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
        x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, uscc),
        *(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, r) for r in role_values),
    ])
    builder = (_builder(subject, ca_cert.subject,
                        ed25519.Ed25519PublicKey.from_public_bytes(public_key), _now(now), validity)
               .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]),
                              critical=False))
    return _issued(builder, ca_key, ca_cert)


def issue_node_cert(
    ca_key: ed25519.Ed25519PrivateKey, ca_cert: x509.Certificate, *, public_key: CertPublicKey,
    node_id: str, uscc: str, org_name: str, now: datetime | None = None,
    validity: timedelta = DEFAULT_VALIDITY,
) -> x509.Certificate:
    """Issue a node (or etcd member) certificate: TLS server and client on loopback."""
    _check_org(uscc, org_name)
    _check_validity(validity)
    if not node_id or not node_id.strip():
        raise ValueError("a node certificate needs a node id")
    subject = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, node_id),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, org_name),
        x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, uscc),
    ])
    builder = (_builder(subject, ca_cert.subject, public_key, _now(now), validity)
               .add_extension(x509.SubjectAlternativeName([
                   x509.DNSName("localhost"),
                   x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
               .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                     ExtendedKeyUsageOID.CLIENT_AUTH]),
                              critical=False))
    return _issued(builder, ca_key, ca_cert)


# -- files ------------------------------------------------------------------------------


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # also when overwriting a file created with a looser mode
    with os.fdopen(descriptor, "wb") as out:
        out.write(data)


def write_private_key(path: Path, key: CertKey, password: str | None) -> None:
    """Write `key` as PKCS#8 PEM, encrypted under `password` unless it is None (mode 0600)."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.NoEncryption() if password is None
        else serialization.BestAvailableEncryption(password.encode("utf-8")))
    _write_private(path, key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8, encryption))


def load_private_key(path: Path, password: str | None) -> CertKey:
    """Read a PEM private key written by `write_private_key`; clear error if it cannot."""
    try:
        key = serialization.load_pem_private_key(
            path.read_bytes(), None if password is None else password.encode("utf-8"))
    except (ValueError, TypeError) as exc:
        raise CertificateError(f"cannot open private key {path}: wrong password or "
                               f"not a PEM key ({exc})") from exc
    if not isinstance(key, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
        raise CertificateError(f"{path} holds a {type(key).__name__}, not an Ed25519 or EC key")
    return key


def write_certificate(path: Path, cert: x509.Certificate) -> None:
    """Write `cert` as PEM (certificates are public)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def read_certificate(path: Path) -> x509.Certificate:
    """Read a PEM certificate; raise CertificateError if the file is not one."""
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except ValueError as exc:
        raise CertificateError(f"{path} is not a PEM certificate: {exc}") from exc


# -- checking and reading ---------------------------------------------------------------


def check_issued_by(cert: x509.Certificate, ca_cert: x509.Certificate, *,
                    at: datetime | None = None) -> None:
    """Check `cert` was signed by `ca_cert` and is inside its validity at `at` (default now).

    Raises CertificateError saying which check failed.
    """
    moment = _now(at)
    if cert.issuer != ca_cert.subject:
        raise CertificateError(f"certificate of {cert.subject.rfc4514_string()} was issued by "
                               f"{cert.issuer.rfc4514_string()}, not by the consortium CA")
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (InvalidSignature, ValueError, TypeError) as exc:
        raise CertificateError(f"certificate of {cert.subject.rfc4514_string()} does not "
                               f"carry a valid signature of the consortium CA") from exc
    if moment < cert.not_valid_before_utc:
        raise CertificateError(f"certificate of {cert.subject.rfc4514_string()} is not valid "
                               f"before {cert.not_valid_before_utc.isoformat()}")
    if moment > cert.not_valid_after_utc:
        raise CertificateError(f"certificate of {cert.subject.rfc4514_string()} expired at "
                               f"{cert.not_valid_after_utc.isoformat()}")


def _one(cert: x509.Certificate, oid: x509.ObjectIdentifier, what: str) -> str:
    values = cert.subject.get_attributes_for_oid(oid)
    if len(values) != 1:
        raise CertificateError(f"certificate subject {cert.subject.rfc4514_string()} has "
                               f"{len(values)} {what} attributes, expected one")
    return str(values[0].value)


def _uscc(cert: x509.Certificate) -> str:
    uscc = _one(cert, NameOID.ORGANIZATION_IDENTIFIER, "organizationIdentifier")
    if not is_valid_uscc(uscc):
        raise CertificateError(f"certificate organizationIdentifier {uscc!r} is not a USCC")
    return uscc


def member_info(cert: x509.Certificate) -> MemberCertInfo:
    """Read the USCC, name, roles and signing key from a member certificate."""
    uscc = _uscc(cert)
    name = _one(cert, NameOID.ORGANIZATION_NAME, "O")
    role_values = [str(a.value) for a in
                   cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)]
    unknown = sorted(set(role_values) - ROLE_VALUES)
    if unknown or not role_values:
        raise CertificateError(f"member certificate of {uscc} names roles {role_values}; "
                               f"known roles are {sorted(ROLE_VALUES)}")
    public = cert.public_key()
    if not isinstance(public, ed25519.Ed25519PublicKey):
        raise CertificateError(f"member certificate of {uscc} does not carry an Ed25519 key")
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return MemberCertInfo(uscc, name, frozenset(Role(r) for r in role_values), raw)


def node_info(cert: x509.Certificate) -> NodeCertInfo:
    """Read the node id, organisation USCC and name from a node certificate."""
    return NodeCertInfo(_one(cert, NameOID.COMMON_NAME, "CN"), _uscc(cert),
                        _one(cert, NameOID.ORGANIZATION_NAME, "O"))
