"""The member side of the consortium's TLS: the files a member holds and the context it uses.

On a network, nodes serve https and require a client certificate issued by
the consortium CA.  A member holds three PEM files: its member certificate,
the TLS key sealed with its password, and the CA certificate.  `TlsFiles`
names them; `client_context` turns them into the `ssl.SSLContext` the SDK
(`NodeClient`, `Participant`) takes as `tls`.  It trusts only the consortium
CA, presents the member's certificate and checks hostnames.

Creating the CA and issuing certificates is the consortium's business, not a
participant's: that lives in `client.local_consortium.pki`.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

MIN_TLS_VERSION = ssl.TLSVersion.TLSv1_3


class CertificateError(ValueError):
    """A certificate is malformed, not issued by the consortium CA, or not valid now."""


@dataclass(frozen=True)
class TlsFiles:
    """A TLS identity on disk: certificate, private key and the CA that issued it (PEM)."""

    cert: Path
    key: Path
    ca: Path


def client_context(files: TlsFiles, password: str | None = None) -> ssl.SSLContext:
    """Return a TLS client context: trust only the consortium CA, present `files`' cert.

    `password` opens an encrypted key (a member's `keys/<alias>.tls.pem`);
    hostnames are checked, so servers need their address in the SAN.
    Raises CertificateError if a file is missing or the key does not open.
    """
    for path in (files.cert, files.key, files.ca):
        if not path.is_file():
            raise CertificateError(f"TLS file missing: {path}")
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(files.ca))
    context.minimum_version = MIN_TLS_VERSION
    try:
        context.load_cert_chain(str(files.cert), str(files.key), password=password)
    except ssl.SSLError as exc:
        raise CertificateError(f"cannot load {files.cert} with key {files.key}: wrong password "
                               f"or a key that does not match ({exc})") from exc
    return context
