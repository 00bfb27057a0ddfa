"""Password-encrypted keystore files for an organisation's Ed25519 signing key.

The 32-byte seed is sealed with AES-256-GCM under a key derived from the
password by scrypt (N=2^15, r=8, p=1); the organisation id, name and public
key travel in the clear as associated data, so tampering with them breaks
decryption.  A wrong password and a tampered file give the same error.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from ledger.crypto import PrivateKey, b64decode, b64encode
from ledger.errors import LedgerError

KEYSTORE_VERSION = 1
SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1


class KeystoreError(Exception):
    """Raised when a keystore cannot be read: wrong password, tampering or bad format."""


@dataclass(frozen=True)
class Identity:
    """An organisation's identity as a client holds it: id, name and signing key."""

    uscc: str
    name: str
    key: PrivateKey


def generate_key() -> PrivateKey:
    """Return a new signing key from the operating system's random source."""
    return PrivateKey(secrets.token_bytes(32))


MAX_SCRYPT_N, MAX_SCRYPT_R, MAX_SCRYPT_P = 2**20, 32, 16


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    limits = ((n, 2, MAX_SCRYPT_N), (r, 1, MAX_SCRYPT_R), (p, 1, MAX_SCRYPT_P))
    if not all(type(v) is int and low <= v <= high for v, low, high in limits):
        raise KeystoreError("keystore scrypt parameters are out of range")
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(password.encode("utf-8"))


def _associated(uscc: str, name: str, public_key: str) -> bytes:
    return json.dumps([KEYSTORE_VERSION, uscc, name, public_key]).encode("utf-8")


def save_keystore(path: Path, identity: Identity, password: str) -> None:
    """Write `identity` to `path`, encrypted under `password` (file mode 0600)."""
    salt, nonce = secrets.token_bytes(16), secrets.token_bytes(12)
    public = identity.key.public_key.hex()
    sealed = AESGCM(_derive(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)).encrypt(
        nonce, identity.key.seed, _associated(identity.uscc, identity.name, public)
    )
    document = {
        "version": KEYSTORE_VERSION, "uscc": identity.uscc, "name": identity.name,
        "public_key": public,
        "kdf": {"name": "scrypt", "salt": b64encode(salt), "n": SCRYPT_N, "r": SCRYPT_R,
                "p": SCRYPT_P},
        "cipher": {"name": "aes-256-gcm", "nonce": b64encode(nonce),
                   "ciphertext": b64encode(sealed)},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # also when overwriting a file created with a looser mode
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2)


def _keystore_document(path: Path) -> Any:
    """Return the JSON document of a keystore file; raise KeystoreError if it is not one."""
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    if not isinstance(doc, dict) or "cipher" not in doc:
        looks = " (it is a PEM file: a certificate or key, not a keystore)" if (
            text.lstrip().startswith("-----BEGIN")) else ""
        raise KeystoreError(f"{path} is not a keystore{looks}: a keystore is the JSON file "
                            "`ledger keys generate` or `ledger consortium init` wrote, "
                            "keys/<alias>.json")
    return doc


def load_keystore(path: Path, password: str) -> Identity:
    """Decrypt the keystore at `path`; raise KeystoreError if it cannot be opened."""
    try:
        doc = _keystore_document(path)
        kdf, cipher = doc["kdf"], doc["cipher"]
        key = _derive(password, b64decode(kdf["salt"], what="salt"), kdf["n"], kdf["r"], kdf["p"])
        seed = AESGCM(key).decrypt(
            b64decode(cipher["nonce"], what="nonce"),
            b64decode(cipher["ciphertext"], what="ciphertext"),
            _associated(doc["uscc"], doc["name"], doc["public_key"]),
        )
    except InvalidTag as exc:
        raise KeystoreError(f"cannot open {path}: wrong password or tampered file") from exc
    except KeystoreError:
        raise
    except (OSError, ValueError, KeyError, TypeError, LedgerError) as exc:
        raise KeystoreError(f"cannot read keystore {path}: {exc}") from exc
    identity = Identity(doc["uscc"], doc["name"], PrivateKey(seed))
    if identity.key.public_key.hex() != doc["public_key"]:
        raise KeystoreError(f"keystore {path} is inconsistent: key does not match")
    return identity
